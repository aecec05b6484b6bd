/** What GET /v1/model and the gRPC Info call report: the model, readiness, and the shard map. */
import { type Labels, labelsInfo } from "../../shared/checkpoint/labels.js";
import type { ModelInfo } from "../../shared/results.js";
import type { QueryLimits } from "./query.js";
import { servingState } from "./readiness.js";
import type { Topology } from "./topology.js";

/** Without `exposeTopology` a replica is "replica i of n", with its health but not its address or socket error. */
export function modelView(topology: Topology, limits: QueryLimits, labels: Labels | null = null, exposeTopology = true): ModelInfo {
  const info = topology.ready ? topology.info : null;
  const state = servingState(topology, labels);
  return {
    model: topology.model,
    ready: state.ok,
    reason: state.ok ? "" : state.reason,
    dtype: info?.dtype ?? "",
    hasBias: info?.hasBias ?? false,
    maxTopK: topology.model ? Math.min(topology.model.vocabSize, limits.maxTopK) : limits.maxTopK,
    maxRows: limits.maxRows,
    ranges: topology.ranges.map((r) => ({
      start: r.range.start,
      end: r.range.end,
      replicas: exposeTopology
        ? r.replicas
        : r.replicas.map((x, i) => ({ address: `replica ${i + 1} of ${r.replicas.length}`, healthy: x.healthy, error: x.healthy ? null : "not answering" })),
    })),
    /** Where result labels come from, or null without --labels. */
    labels: labelsInfo(labels),
  };
}
