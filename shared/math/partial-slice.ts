/**
 * Cutting a batched partial back into the partials of the requests that
 * shared it, and joining a request's parts that came from several batches.
 * Pure; per row and per top-k entry only, never per class.
 *
 * A batch runs with the largest top-k of its requests. A row's top-k list is
 * sorted best first, so its first min(topK, k) entries are exactly that
 * row's smaller top-k: the cut is exact.
 */
import type { BatchPartial } from "./partial.js";

/** Rows [row, row + rows) and targets [target, target + targets) of a batch, cut to topK per row. */
export interface PartialSlot {
  row: number;
  rows: number;
  target: number;
  targets: number;
  topK: number;
}

export function slicePartial(batch: BatchPartial, slot: PartialSlot): BatchPartial {
  const { row, rows } = slot;
  const k = Math.min(slot.topK, batch.k);
  const topIds = new Uint32Array(rows * k);
  const topLogits = new Float32Array(rows * k);
  if (k === batch.k) {
    topIds.set(batch.topIds.subarray(row * k, (row + rows) * k));
    topLogits.set(batch.topLogits.subarray(row * k, (row + rows) * k));
  } else {
    for (let r = 0; r < rows; r++) {
      const from = (row + r) * batch.k;
      topIds.set(batch.topIds.subarray(from, from + k), r * k);
      topLogits.set(batch.topLogits.subarray(from, from + k), r * k);
    }
  }
  return {
    rows,
    k,
    max: batch.max.slice(row, row + rows),
    sumExp: batch.sumExp.slice(row, row + rows),
    topIds,
    topLogits,
    targetLogits: batch.targetLogits.slice(slot.target, slot.target + slot.targets),
  };
}

/** Consecutive rows of one request, answered by consecutive batches, put back together. */
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
