/**
 * combinePartials: the partial of a range from the partials of its
 * consecutive blocks equals the partial computed over the whole range at
 * once (partialOfLogits, the executable contract), for any block split,
 * with ties across block boundaries, all −∞ blocks, k larger than a block,
 * and targets in the asked order.
 */
import { describe, expect, it } from "vitest";
import { combinePartials, routeFlatTargets } from "../../shared/math/combine-partials.js";
import { type BatchPartial, partialFrom, partialOfLogits } from "../../shared/math/partial.js";
import { mulberry32, normal } from "../helpers/reference-softmax.js";

const START = 1000;

/** The BatchPartial of rows of logits over global ids [START + from, START + to), from the contract. */
function partialOf(logits: Float32Array[], from: number, to: number, k: number, targets: { counts: Uint32Array; ids: Uint32Array }): BatchPartial {
  const rows = logits.length;
  const kBlock = Math.min(k, to - from);
  const out = {
    rows,
    k: kBlock,
    max: new Float64Array(rows),
    sumExp: new Float64Array(rows),
    topIds: new Uint32Array(rows * kBlock),
    topLogits: new Float32Array(rows * kBlock),
  };
  const targetLogits: number[] = [];
  let next = 0;
  logits.forEach((row, r) => {
    const asked = Array.from(targets.ids.subarray(next, (next += targets.counts[r]!)));
    const p = partialOfLogits(row.subarray(from, to), START + from, kBlock, asked);
    out.max[r] = p.max;
    out.sumExp[r] = p.sumExp;
    p.top.forEach((t, j) => {
      out.topIds[r * kBlock + j] = t.id;
      out.topLogits[r * kBlock + j] = t.logit;
    });
    targetLogits.push(...p.targetLogits);
  });
  return partialFrom({ ...out, targetCounts: targets.counts, targetLogits: Float32Array.from(targetLogits) });
}

function cases(seed: number, rows: number, size: number): { logits: Float32Array[]; targets: { counts: Uint32Array; ids: Uint32Array } } {
  const gauss = normal(mulberry32(seed));
  const logits = Array.from({ length: rows }, () => Float32Array.from({ length: size }, () => gauss() * 3));
  // Ties: the same value on both sides of several block boundaries and as the row maximum.
  for (const row of logits) for (const at of [9, 10, 19, 20, 49, 50]) row[at] = 50;
  const ids: number[] = [];
  const counts = Uint32Array.from({ length: rows }, (_, r) => {
    const asked = [START, START + size - 1, START + 10, START + 10, START + ((r * 37) % size)];
    ids.push(...asked);
    return asked.length;
  });
  return { logits, targets: { counts, ids: Uint32Array.from(ids) } };
}

describe.each([
  { blockRows: 10, k: 5 },
  { blockRows: 10, k: 37 },
  { blockRows: 7, k: 1 },
  { blockRows: 1, k: 12 },
  { blockRows: 33, k: 0 },
  { blockRows: 100, k: 100 },
])("blocks of $blockRows, k=$k", ({ blockRows, k }) => {
  const size = 100;
  const { logits, targets } = cases(blockRows * 31 + k, 3, size);
  const whole = partialOf(logits, 0, size, k, targets);
  const blocks = Math.ceil(size / blockRows);
  const routed = routeFlatTargets(targets, blocks, (id) => Math.floor((id - START) / blockRows));
  const parts = Array.from({ length: blocks }, (_, j) => partialOf(logits, j * blockRows, Math.min(size, (j + 1) * blockRows), k, routed.perPart[j]!));
  const combined = combinePartials(parts, Math.min(k, size), routed.owners);

  it("max and top-k are identical, ties by smaller id across block boundaries", () => {
    expect(combined.k).toBe(whole.k);
    expect(combined.max).toEqual(whole.max);
    expect(Array.from(combined.topIds)).toEqual(Array.from(whole.topIds));
    expect(Array.from(combined.topLogits)).toEqual(Array.from(whole.topLogits));
    if (k >= 3) expect(Array.from(combined.topIds.subarray(0, 3))).toEqual([START + 9, START + 10, START + 19]);
  });

  it("the exp-sum agrees to float64 rounding", () => {
    combined.sumExp.forEach((s, r) => expect(Math.abs(s - whole.sumExp[r]!) / whole.sumExp[r]!).toBeLessThan(1e-13));
  });

  it("targets come back in the asked order", () => {
    expect(Array.from(combined.targetLogits)).toEqual(Array.from(whole.targetLogits));
  });
});

it("a block whose classes are all −∞ holds no mass, and an all −∞ range has max −∞ and sum 0", () => {
  const logits = [Float32Array.from([-Infinity, -Infinity, -Infinity, 1, 2, 3])];
  const none = { counts: new Uint32Array(1), ids: new Uint32Array(0) };
  const parts = [partialOf(logits, 0, 3, 2, none), partialOf(logits, 3, 6, 2, none)];
  const combined = combinePartials(parts, 2, new Uint32Array(0));
  expect(combined.max[0]).toBe(3);
  expect(combined.sumExp[0]).toBeCloseTo(1 + Math.exp(-1) + Math.exp(-2), 14);
  const dead = [Float32Array.from([-Infinity, -Infinity, -Infinity, -Infinity])];
  const both = combinePartials([partialOf(dead, 0, 2, 1, none), partialOf(dead, 2, 4, 1, none)], 1, new Uint32Array(0));
  expect([both.max[0], both.sumExp[0], both.topIds[0]]).toEqual([-Infinity, 0, START]);
});
