/**
 * Shard calls for batching tests, and the float64 check of one call's answer:
 * what a shard owning `range` must send for each row, from the formula
 *
 *   z = (W·h + b) / T,  m = max z,  S = Σ exp(z − m),  top = k best (ties by id),  t = z[targets]
 *
 * computed here in float64 over the whole head (referenceLogits), then cut to the range.
 */
import { expect } from "vitest";
import type { ShardCall } from "../../services/shard/batcher.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import type { ClassRange } from "../../shared/ranges.js";
import { type Head, mulberry32, randInt, referenceLogits, referenceTopK } from "./reference-softmax.js";

export interface CallSpec {
  hidden: Float32Array[];
  topK: number;
  temperature: number;
  /** Per row, global ids inside the shard's range. */
  targets: number[][];
}

/** Wire-like bytes: little-endian, deliberately at an odd offset as a received frame may be. */
export function unalignedBytes(array: Float32Array | Uint32Array): Uint8Array {
  const frame = Buffer.alloc(array.byteLength + 1);
  frame.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), 1);
  return frame.subarray(1);
}

export function toCall(spec: CallSpec): ShardCall {
  const dim = spec.hidden[0]!.length;
  const hidden = new Float32Array(spec.hidden.length * dim);
  spec.hidden.forEach((row, i) => hidden.set(row, i * dim));
  return {
    rows: spec.hidden.length,
    hidden: unalignedBytes(hidden),
    topK: spec.topK,
    options: { ...defaultOptions(), temperatures: new Float64Array(spec.hidden.length).fill(spec.temperature) },
    targetCounts: Uint32Array.from(spec.targets.map((t) => t.length)),
    targetIds: unalignedBytes(Uint32Array.from(spec.targets.flat())),
  };
}

/** A random call: 1…maxRows rows, topK 0…maxTopK, temperature in [0.5, 2], 0…3 targets per row. */
export function randomCall(seed: number, head: Head, range: ClassRange, maxRows: number, maxTopK: number): CallSpec {
  const uniform = mulberry32(seed);
  const rows = randInt(uniform, 1, maxRows + 1);
  return {
    hidden: Array.from({ length: rows }, () => Float32Array.from({ length: head.dim }, () => Math.fround(uniform() * 2 - 1))),
    topK: randInt(uniform, 0, maxTopK + 1),
    temperature: Math.fround(0.5 + 1.5 * uniform()),
    targets: Array.from({ length: rows }, () => Array.from({ length: randInt(uniform, 0, 4) }, () => randInt(uniform, range.start, range.end))),
  };
}

/** Asserts that `partial` is exactly this call's answer from a shard serving `range`. */
export function expectShardAnswer(partial: BatchPartial, head: Head, range: ClassRange, spec: CallSpec): void {
  const rows = spec.hidden.length;
  const k = Math.min(spec.topK, range.size);
  expect(partial.rows).toBe(rows);
  expect(partial.k).toBe(k);
  expect(partial.targetLogits.length).toBe(spec.targets.flat().length);
  let target = 0;
  for (let row = 0; row < rows; row++) {
    const logits = referenceLogits(head, spec.hidden[row]!, Math.fround(spec.temperature)).subarray(range.start, range.end);
    let max = -Infinity;
    for (const z of logits) max = Math.max(max, z);
    let sumExp = 0;
    for (const z of logits) sumExp += Math.exp(z - max);
    expect(Math.abs(partial.max[row]! - max)).toBeLessThan(1e-4);
    expect(Math.abs(partial.sumExp[row]! / sumExp - 1)).toBeLessThan(1e-4);
    const top = referenceTopK(logits, k).map((i) => i + range.start);
    expect(Array.from(partial.topIds.subarray(row * k, (row + 1) * k))).toEqual(top);
    top.forEach((id, j) => expect(Math.abs(partial.topLogits[row * k + j]! - logits[id - range.start]!)).toBeLessThan(1e-4));
    for (const id of spec.targets[row]!) {
      expect(Math.abs(partial.targetLogits[target++]! - logits[id - range.start]!)).toBeLessThan(1e-4);
    }
  }
}
