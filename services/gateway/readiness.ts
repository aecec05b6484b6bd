/**
 * The one rule for whether a topology may serve: complete, one head, and the
 * labels (if any) sized for its vocabulary. The core reports it as readiness;
 * a query run on a topology snapshot refuses by it.
 */

import { type Labels, labelProblem } from "../../shared/checkpoint/labels.js";
import type { ErrorCode } from "../../shared/errors.js";
import type { ModelRef, Topology } from "./topology.js";

type ReadyTopology = Extract<Topology, { ready: true }>;

export type ServingState = { ok: true; model: ModelRef; topology: ReadyTopology } | { ok: false; code: ErrorCode; reason: string };

export function servingState(topology: Topology, labels: Labels | null): ServingState {
  if (!topology.ready) return { ok: false, code: topology.code, reason: topology.reason };
  const mislabeled = labelProblem(labels, topology.model);
  if (mislabeled) return { ok: false, code: "MODEL_MISMATCH", reason: mislabeled };
  return { ok: true, model: topology.model, topology };
}
