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
  const k = parts[0]!.k;
  const concat = <T extends Float64Array | Float32Array | Uint32Array>(make: (n: number) => T, pick: (p: BatchPartial) => T): T => {
    const out = make(parts.reduce((n, p) => n + pick(p).length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(pick(p), at);
      at += pick(p).length;
    }
    return out;
  };
  return {
    rows: parts.reduce((n, p) => n + p.rows, 0),
    k,
    max: concat((n) => new Float64Array(n), (p) => p.max as Float64Array),
    sumExp: concat((n) => new Float64Array(n), (p) => p.sumExp as Float64Array),
    topIds: concat((n) => new Uint32Array(n), (p) => p.topIds as Uint32Array),
    topLogits: concat((n) => new Float32Array(n), (p) => p.topLogits as Float32Array),
    targetLogits: concat((n) => new Float32Array(n), (p) => p.targetLogits as Float32Array),
  };
}

/** The shard's batch kind: runs on a session (in this thread or a worker) and cuts per call. */
export function partialBatches(run: (batch: PartialBatch) => Promise<BatchPartial>): BatchKind<BatchPartial> {
  return { run, slice: slicePartial, join: joinPartials };
}
