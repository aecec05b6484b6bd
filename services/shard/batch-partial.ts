/**
 * How a shard's batched result is handed back per call: a batch runs with the
 * largest top-k of its calls, and each call gets its own rows, its own
 * targets, and the first min(its topK, k) entries of each row (a row's top-k
 * list is sorted, so its prefix is the smaller top-k exactly). Per row and
 * per k entry only; nothing here walks the classes.
 */
import type { BatchPartial } from "../../shared/math/partial.js";
import type { BatchKind, BatchSlot } from "./batcher.js";
import type { PartialBatch } from "./session.js";

export function slicePartial(result: BatchPartial, slot: BatchSlot): BatchPartial {
  const { row, rows } = slot;
  const k = Math.min(slot.topK, result.k);
  const topIds = new Uint32Array(rows * k);
  const topLogits = new Float32Array(rows * k);
  if (k === result.k) {
    topIds.set(result.topIds.subarray(row * k, (row + rows) * k));
    topLogits.set(result.topLogits.subarray(row * k, (row + rows) * k));
  } else {
    for (let r = 0; r < rows; r++) {
      const from = (row + r) * result.k;
      topIds.set(result.topIds.subarray(from, from + k), r * k);
      topLogits.set(result.topLogits.subarray(from, from + k), r * k);
    }
  }
  return {
    rows,
    k,
    max: result.max.slice(row, row + rows),
    sumExp: result.sumExp.slice(row, row + rows),
    topIds,
    topLogits,
    targetLogits: result.targetLogits.slice(slot.target, slot.target + slot.targets),
  };
}

/** Rows of one call answered by consecutive batches, put back together. */
export function joinPartials(parts: readonly BatchPartial[]): BatchPartial {
  return {
    rows: parts.reduce((n, p) => n + p.rows, 0),
    k: parts[0]!.k,
    max: concat(parts.map((p) => p.max), (n) => new Float64Array(n)),
    sumExp: concat(parts.map((p) => p.sumExp), (n) => new Float64Array(n)),
    topIds: concat(parts.map((p) => p.topIds), (n) => new Uint32Array(n)),
    topLogits: concat(parts.map((p) => p.topLogits), (n) => new Float32Array(n)),
    targetLogits: concat(parts.map((p) => p.targetLogits), (n) => new Float32Array(n)),
  };
}

function concat<T extends Float64Array | Float32Array | Uint32Array>(arrays: readonly T[], make: (length: number) => T): T {
  const out = make(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** The shard's batch kind: runs on a session (in this thread or a worker) and cuts per call. */
export function partialBatches(run: (batch: PartialBatch) => Promise<BatchPartial>): BatchKind<BatchPartial> {
  return { run, slice: slicePartial, join: joinPartials };
}
