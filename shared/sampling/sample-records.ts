/**
 * Record chains: how a part of the vocabulary answers a Gumbel-max draw so
 * that any restriction to a prefix of the class order can be applied later.
 *
 * Class order is the order of top-k: larger logit first, ties by smaller id.
 * Every restriction shardmax offers (top-k, top-p, min-p, and all three
 * together) allows exactly a prefix of that order. Walk a part's classes in
 * class order and keep each class whose key z + G beats every key before it:
 * those records form the part's chain, and the winner of any prefix is the
 * last record inside it. The chain of a union is the chain of the union of
 * the parts' chains (a record of the union is a record of its own part), so
 * chains merge exactly across blocks and ranges. A chain of n classes has
 * about ln n records (the left-to-right maxima of n exchangeable keys), so a
 * draw costs a handful of (id, logit, key) per part instead of the part's logits.
 *
 * An unrestricted draw needs only the last record (the part's argmax); a
 * shard then sends a chain of one.
 */

import { type BatchPartial, comesBefore } from "../math/partial.js";
import { beats } from "./gumbel.js";

export interface DrawRecord {
  id: number;
  logit: number;
  key: number;
}

/** The chain of `records` (any order): sorted in class order, keeping each that beats all before it. */
export function chainOf(records: DrawRecord[]): DrawRecord[] {
  records.sort((a, b) => (comesBefore(a.logit, a.id, b.logit, b.id) ? -1 : 1));
  const chain: DrawRecord[] = [];
  for (const r of records) {
    const best = chain[chain.length - 1];
    if (!best || beats(r.key, r.id, best.key, best.id)) chain.push(r);
  }
  return chain;
}

/** Per (row, draw), the chain of the parts' chains; every part answers the same draws. */
export function mergeRecordChains(parts: readonly BatchPartial[]): {
  drawRecords: Uint32Array;
  recordIds: Uint32Array;
  recordLogits: Float32Array;
  recordKeys: Float64Array;
} {
  const draws = parts[0]!.drawRecords.length;
  const drawRecords = new Uint32Array(draws);
  if (draws === 0) return { drawRecords, recordIds: new Uint32Array(0), recordLogits: new Float32Array(0), recordKeys: new Float64Array(0) };
  const starts = parts.map((p) => recordStarts(p));
  const merged: DrawRecord[][] = [];
  for (let d = 0; d < draws; d++) {
    const all: DrawRecord[] = [];
    parts.forEach((p, j) => {
      for (let at = starts[j]![d]!; at < starts[j]![d + 1]!; at++) all.push({ id: p.recordIds[at]!, logit: p.recordLogits[at]!, key: p.recordKeys[at]! });
    });
    const chain = chainOf(all);
    drawRecords[d] = chain.length;
    merged.push(chain);
  }
  const total = drawRecords.reduce((a, b) => a + b, 0);
  const recordIds = new Uint32Array(total);
  const recordLogits = new Float32Array(total);
  const recordKeys = new Float64Array(total);
  let at = 0;
  for (const chain of merged) {
    for (const r of chain) {
      recordIds[at] = r.id;
      recordLogits[at] = r.logit;
      recordKeys[at++] = r.key;
    }
  }
  return { drawRecords, recordIds, recordLogits, recordKeys };
}

/** starts[d] = index of draw d's first record; draws + 1 entries. */
export function recordStarts(p: Pick<BatchPartial, "drawRecords">): Uint32Array {
  const starts = new Uint32Array(p.drawRecords.length + 1);
  for (let d = 0; d < p.drawRecords.length; d++) starts[d + 1] = starts[d]! + p.drawRecords[d]!;
  return starts;
}

/** The chain of draw `draw` (a global draw index within the partial). */
export function chainAt(p: BatchPartial, starts: Uint32Array, draw: number): DrawRecord[] {
  const out: DrawRecord[] = [];
  for (let at = starts[draw]!; at < starts[draw + 1]!; at++) out.push({ id: p.recordIds[at]!, logit: p.recordLogits[at]!, key: p.recordKeys[at]! });
  return out;
}
