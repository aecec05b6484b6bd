/**
 * onnxruntime CPU session options used by every session shardmax builds (the
 * shard's blocks and the benchmark's baselines), so the comparison is fair.
 * Spinning is off: several sessions share one process and 2 cores, and a
 * spinning pool would burn the core another session (or the event loop) needs.
 */
import type { InferenceSession } from "onnxruntime-node";

export function cpuSessionOptions(threads: number): InferenceSession.SessionOptions {
  return {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  };
}
