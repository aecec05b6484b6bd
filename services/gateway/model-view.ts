/** What GET /v1/model and the gRPC Info call report: the model, readiness, and the shard map. */
import type { QueryLimits } from "./query.js";
import type { Topology } from "./topology.js";

export function modelView(topology: Topology, limits: QueryLimits) {
  const info = topology.ready ? topology.info : null;
  return {
    model: topology.model,
    ready: topology.ready,
    reason: topology.ready ? "" : topology.reason,
    dtype: info?.dtype ?? "",
    hasBias: info?.hasBias ?? false,
    maxTopK: topology.model ? Math.min(topology.model.vocabSize, limits.maxTopK) : limits.maxTopK,
    maxRows: limits.maxRows,
    ranges: topology.ranges.map((r) => ({ start: r.range.start, end: r.range.end, replicas: r.replicas })),
  };
}
