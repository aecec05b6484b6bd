/** What GET /v1/model and the gRPC Info call report: the model, readiness, and the shard map. */
import { labelProblem, labelsInfo, type Labels } from "./labels.js";
import type { QueryLimits } from "./query.js";
import type { Topology } from "./topology.js";

export function modelView(topology: Topology, limits: QueryLimits, labels: Labels | null = null) {
  const info = topology.ready ? topology.info : null;
  const mislabeled = labelProblem(labels, topology.model);
  return {
    model: topology.model,
    ready: topology.ready && !mislabeled,
    reason: topology.ready ? (mislabeled ?? "") : topology.reason,
    dtype: info?.dtype ?? "",
    hasBias: info?.hasBias ?? false,
    maxTopK: topology.model ? Math.min(topology.model.vocabSize, limits.maxTopK) : limits.maxTopK,
    maxRows: limits.maxRows,
    ranges: topology.ranges.map((r) => ({ start: r.range.start, end: r.range.end, replicas: r.replicas })),
    /** Where result labels come from, or null without --labels. */
    labels: labelsInfo(labels),
  };
}
