/**
 * The messages between a shard's main thread and its inference worker, and
 * which buffers each one transfers (moves, without copying) to the other side.
 */
import * as workerThreads from "node:worker_threads";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { SliceWeights } from "./partial-graph.js";
import type { LogitsBatch, PartialBatch, SessionOptions } from "./session.js";

/** workerData.role of the inference worker, so its entry file acts only when started as one. */
export const WORKER_ROLE = "shardmax-inference";

/** Where the worker reads its slice from itself (so the slice is never copied between threads). */
export interface HeadSpec {
  weights: string;
  tensor?: string | undefined;
  bias?: string | undefined;
}

/** Session options that can cross threads (no callbacks). */
export type WorkerSessionOptions = Omit<SessionOptions, "onBlock">;

export type ToWorker =
  | { type: "create"; range: { start: number; end: number }; slice: SliceWeights | HeadSpec; options: WorkerSessionOptions }
  | { type: "run"; id: number; batch: PartialBatch }
  | { type: "logits"; id: number; batch: LogitsBatch }
  | { type: "close" };

export type FromWorker =
  | { type: "created" }
  | { type: "reading"; local: { start: number; end: number }; bytesDone: number; bytesTotal: number }
  | { type: "built"; rowsDone: number; rowsTotal: number }
  | { type: "result"; id: number; partial: BatchPartial }
  | { type: "logits"; id: number; logits: Float32Array }
  | { type: "failed"; id: number | null; code: string; message: string }
  | { type: "closed" };

/**
 * The ArrayBuffers under every typed array in `value` (plain objects and
 * arrays are walked), to move rather than copy them. A SharedArrayBuffer is
 * shared as it is and needs no transfer; a pooled Buffer's memory is marked
 * untransferable (Node ≥ 21 throws on it, Node 20 copies it), so it is left out.
 */
export function transferablesIn(value: unknown, found = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength > 0 && !isUntransferable(buffer)) found.add(buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) transferablesIn(item, found);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) transferablesIn(item, found);
  }
  return [...found];
}

const marked = (workerThreads as { isMarkedAsUntransferable?: (object: object) => boolean }).isMarkedAsUntransferable;
const isUntransferable = (buffer: ArrayBuffer) => marked?.(buffer) ?? false;
