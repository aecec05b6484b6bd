/**
 * Builds one batch from parts of waiting calls: each part's hidden rows and
 * target ids are copied, once, from the wire bytes (at any alignment) into the
 * batch's fresh aligned arrays; per-row options are joined. Returns where
 * each part sits in the batch, so its answer can be cut back out.
 */

import { joinOptions, type RowOptions, sliceOptions } from "../../shared/math/row-options.js";
import type { PartialBatch } from "./session.js";
import type { BatchSlot, ShardCall } from "./shard-call.js";

/** Rows [firstRow, firstRow + rows) of a call; targetStart as from prefixSums(call.targetCounts). */
export interface CallPart {
  call: ShardCall;
  targetStart: Uint32Array;
  firstRow: number;
  rows: number;
}

export function assembleBatch(parts: readonly CallPart[], dim: number): { batch: PartialBatch; slots: BatchSlot[] } {
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const targets = parts.reduce((n, p) => n + p.targetStart[p.firstRow + p.rows]! - p.targetStart[p.firstRow]!, 0);
  const hidden = new Float32Array(rows * dim);
  const hiddenBytes = new Uint8Array(hidden.buffer);
  const targetCounts = new Uint32Array(rows);
  const targetIds = new Uint32Array(targets);
  const targetBytes = new Uint8Array(targetIds.buffer);
  const rowBytes = dim * 4;
  const slots: BatchSlot[] = [];
  let row = 0;
  let target = 0;
  let topK = 0;
  const options: RowOptions[] = [];
  const optionRows: number[] = [];
  for (const { call, targetStart, firstRow, rows: n } of parts) {
    hiddenBytes.set(call.hidden.subarray(firstRow * rowBytes, (firstRow + n) * rowBytes), row * rowBytes);
    options.push(sliceOptions(call.options, call.rows, firstRow, n));
    optionRows.push(n);
    targetCounts.set(call.targetCounts.subarray(firstRow, firstRow + n), row);
    const t0 = targetStart[firstRow]!;
    const t1 = targetStart[firstRow + n]!;
    targetBytes.set(call.targetIds.subarray(t0 * 4, t1 * 4), target * 4);
    slots.push({ row, rows: n, topK: call.topK });
    topK = Math.max(topK, call.topK);
    row += n;
    target += t1 - t0;
  }
  return { batch: { rows, hidden, topK, options: joinOptions(options, optionRows), targetCounts, targetIds }, slots };
}

/** starts[row] = index of the row's first target; rows + 1 entries. */
export function prefixSums(counts: Uint32Array): Uint32Array {
  const starts = new Uint32Array(counts.length + 1);
  for (let i = 0; i < counts.length; i++) starts[i + 1] = starts[i]! + counts[i]!;
  return starts;
}
