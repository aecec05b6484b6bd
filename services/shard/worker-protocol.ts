/**
 * The messages between a shard's main thread and its inference worker, and
 * which buffers each one transfers (moves, without copying) to the other side.
 */
import type { BatchPartial } from "../../shared/math/partial.js";
import type { SliceWeights } from "./partial-graph.js";
import type { PartialBatch, SessionOptions } from "./session.js";

/** workerData.role of the inference worker, so its entry file acts only when started as one. */
export const WORKER_ROLE = "shardmax-inference";

export type ToWorker =
  | { type: "create"; range: { start: number; end: number }; slice: SliceWeights; options: SessionOptions }
  | { type: "run"; id: number; batch: PartialBatch }
  | { type: "close" };

export type FromWorker =
  | { type: "created" }
  | { type: "result"; id: number; partial: BatchPartial }
  | { type: "failed"; id: number | null; code: string; message: string }
  | { type: "closed" };

export function transferListOf(arrays: readonly (ArrayBufferView | null)[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const array of arrays) {
    // A SharedArrayBuffer is shared, not transferred: it never needs a copy either.
    if (array && array.buffer instanceof ArrayBuffer && array.buffer.byteLength > 0) buffers.add(array.buffer);
  }
  return [...buffers];
}

