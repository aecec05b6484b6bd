/**
 * Property tests of the sharded softmax math against an independent float64
 * reference (test/helpers/reference-softmax.ts): exactness for any shard count
 * and vocabulary size, shard-count independence, deterministic ties, extreme
 * logits, temperature, −1e30 / −∞ biases, target routing and top-k edge cases.
 */
import { describe, expect, it } from "vitest";
import { routeFlatTargets } from "../../shared/math/combine-partials.js";
import { combineLogSumExp, logProb } from "../../shared/math/logsumexp.js";
import { comesBefore, partialFrom, partialOfLogits, scaleLogit } from "../../shared/math/partial.js";
import { mergeTopK } from "../../shared/math/topk-merge.js";
import { type ClassRange, RangeMap, splitAll } from "../../shared/ranges.js";
import type { RowResult } from "../../shared/results.js";
import {
  type Head,
  logProbTolerance,
  logZTolerance,
  mulberry32,
  ownPartial,
  type PartialSource,
  type ReferenceRow,
  randInt,
  randomHead,
  randomHidden,
  referenceSoftmax,
  shuffle,
  simulateShards,
  within,
} from "../helpers/reference-softmax.js";

const DIM = 16;
const ROWS = 4;
/** Across shard counts the float32 logits are identical; only float64 summation order differs. */
const SHARD_INDEPENDENCE_TOL = 1e-5;

// ---------------------------------------------------------------------------
// Assertions.

function expectWithin(actual: number, expected: number, tol: number, what: string): void {
  expect(within(actual, expected, tol), `${what}: got ${actual}, want ${expected} ± ${tol}`).toBe(true);
}

function expectNoNaN(result: RowResult, what: string): void {
  expect(Number.isNaN(result.logZ), `${what}: logZ is NaN`).toBe(false);
  for (const t of result.top) {
    for (const v of [t.logit, t.logprob, t.prob]) expect(Number.isNaN(v), `${what}: top id ${t.id} has NaN`).toBe(false);
  }
  for (const t of result.targets) {
    for (const v of [t.logit, t.logprob]) expect(Number.isNaN(v), `${what}: target id ${t.id} has NaN`).toBe(false);
  }
}

/** A merged row equals the float64 reference: logZ, top ids exactly, log-probs within the float32 bound. */
function expectRowMatches(result: RowResult, ref: ReferenceRow, rowTargets: readonly number[], what: string): void {
  expectNoNaN(result, what);
  expectWithin(result.logZ, ref.logZ, logZTolerance(ref), `${what} logZ`);
  expect(
    result.top.map((t) => t.id),
    `${what} top ids`,
  ).toEqual(ref.topIds);
  for (const t of result.top) {
    const tol = logProbTolerance(ref, t.id);
    expectWithin(t.logit, ref.logits[t.id]!, tol, `${what} top ${t.id} logit`);
    expectWithin(t.logprob, ref.logProbs[t.id]!, tol, `${what} top ${t.id} logprob`);
    expectWithin(t.prob, Math.exp(ref.logProbs[t.id]!), tol, `${what} top ${t.id} prob`);
  }
  expect(
    result.targets.map((t) => t.id),
    `${what} target ids`,
  ).toEqual([...rowTargets]);
  for (const t of result.targets) {
    const tol = logProbTolerance(ref, t.id);
    expectWithin(t.logit, ref.logits[t.id]!, tol, `${what} target ${t.id} logit`);
    expectWithin(t.logprob, ref.logProbs[t.id]!, tol, `${what} target ${t.id} logprob`);
  }
}

function expectAllRowsMatch(results: RowResult[], refs: ReferenceRow[], targets: readonly (readonly number[])[], what: string): void {
  expect(results).toHaveLength(refs.length);
  results.forEach((r, row) => expectRowMatches(r, refs[row]!, targets[row] ?? [], `${what} row ${row}`));
}

// ---------------------------------------------------------------------------
// Test data.

/** Targets for one row: one id in every shard, duplicates, random extras, shuffled. */
function spanningTargets(uniform: () => number, ranges: readonly ClassRange[], vocabSize: number): number[] {
  const ids = ranges.map((r) => randInt(uniform, r.start, r.end));
  ids.push(ids[0]!, ids[ids.length - 1]!, ids[0]!);
  for (let i = 0; i < 5; i++) ids.push(randInt(uniform, 0, vocabSize));
  return shuffle(uniform, ids);
}

/** Per-row targets: two spanning rows, an empty row, and a row of duplicated boundary ids. */
function targetsFor(seed: number, vocabSize: number, shards: number): number[][] {
  const uniform = mulberry32(seed);
  const ranges = splitAll(vocabSize, shards);
  return [spanningTargets(uniform, ranges, vocabSize), spanningTargets(uniform, ranges, vocabSize), [], [vocabSize - 1, 0, vocabSize - 1, 0]];
}

function seedOf(...parts: number[]): number {
  return parts.reduce((acc, p) => Math.imul(acc ^ p, 0x9e3779b1) >>> 0, 0x1234567);
}

/** A head whose W is zero, so z_i = b_i exactly: full control of every logit. */
function biasOnlyHead(bias: ArrayLike<number>): Head {
  const vocabSize = bias.length;
  return { vocabSize, dim: 2, weight: new Float32Array(vocabSize * 2), bias: Float32Array.from(bias) };
}

const SHARD_COUNTS = [1, 2, 3, 8] as const;

/** Prime V, uneven V, V < n·k (20 classes, 8 shards, k = 5) and V equal to the shard count. */
const EXACTNESS_CASES = SHARD_COUNTS.flatMap((shards) => [1009, 1001, 20, shards].map((vocabSize) => ({ shards, vocabSize, topK: 5 })));

// ---------------------------------------------------------------------------

describe("sharded softmax equals the float64 reference", () => {
  describe.each(EXACTNESS_CASES)("V=$vocabSize, $shards shard(s), k=$topK", ({ shards, vocabSize, topK }) => {
    const head = randomHead(seedOf(vocabSize, 1), vocabSize, DIM);
    const hidden = randomHidden(seedOf(vocabSize, 2), ROWS, DIM);
    const targets = targetsFor(seedOf(vocabSize, shards, 3), vocabSize, shards);
    const refs = referenceSoftmax(head, hidden, topK);

    it.each<PartialSource>(["own", "partialOfLogits"])("logZ, top-k and targets match (partials from %s)", (source) => {
      const { results } = simulateShards(head, hidden, { shards, topK, targets, source });
      expectAllRowsMatch(results, refs, targets, `${source}`);
      // min(k, V) entries, whatever the shard sizes.
      for (const r of results) expect(r.top).toHaveLength(Math.min(topK, vocabSize));
    });
  });
});

describe("shard-count independence", () => {
  it.each([1009, 1001, 20, 8])("V=%i: same ids and log-probs within 1e-5 for 1, 2, 3 and 8 shards", (vocabSize) => {
    const head = randomHead(seedOf(vocabSize, 11), vocabSize, DIM);
    const hidden = randomHidden(seedOf(vocabSize, 12), ROWS, DIM);
    const targets = targetsFor(seedOf(vocabSize, 13), vocabSize, 8);
    const topK = 7;
    const [base, ...others] = SHARD_COUNTS.map((shards) => simulateShards(head, hidden, { shards, topK, targets }).results);
    // The baseline itself is pinned to the reference, so agreement below is agreement with the truth.
    expectAllRowsMatch(base!, referenceSoftmax(head, hidden, topK), targets, "1 shard");
    others.forEach((results, i) => {
      const what = `${SHARD_COUNTS[i + 1]} shards`;
      results.forEach((r, row) => {
        const b = base![row]!;
        expectWithin(r.logZ, b.logZ, SHARD_INDEPENDENCE_TOL, `${what} row ${row} logZ`);
        expect(
          r.top.map((t) => t.id),
          `${what} row ${row} ids`,
        ).toEqual(b.top.map((t) => t.id));
        r.top.forEach((t, j) => expectWithin(t.logprob, b.top[j]!.logprob, SHARD_INDEPENDENCE_TOL, `${what} row ${row} top ${t.id}`));
        expect(r.targets.map((t) => t.id)).toEqual(b.targets.map((t) => t.id));
        r.targets.forEach((t, j) => expectWithin(t.logprob, b.targets[j]!.logprob, SHARD_INDEPENDENCE_TOL, `${what} row ${row} target ${t.id}`));
      });
    });
  });
});

describe("deterministic ties: equal logits order by smaller class id", () => {
  const vocabSize = 1001;

  /** Bias ≤ 0 everywhere (strictly below the tied value 3), then 3 on every boundary pair and extras. */
  function tiedBias(shards: number, seed: number): { bias: Float32Array; tied: number[] } {
    const uniform = mulberry32(seed);
    const bias = new Float32Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) bias[i] = -uniform() * 2;
    const tied = new Set<number>();
    for (const r of splitAll(vocabSize, shards).slice(1)) tied.add(r.start - 1).add(r.start);
    while (tied.size < 2 * shards + 8) tied.add(randInt(uniform, 0, vocabSize));
    for (const id of tied) bias[id] = 3;
    return { bias, tied: [...tied].sort((a, b) => a - b) };
  }

  describe.each(SHARD_COUNTS)("%i shard(s)", (shards) => {
    it.each([1, 2, 5, 9])("more tied classes than k=%i: the smallest tied ids win", (topK) => {
      const { bias, tied } = tiedBias(shards, seedOf(shards, topK, 21));
      expect(tied.length).toBeGreaterThan(topK);
      const head = biasOnlyHead(bias);
      const hidden = [new Float64Array([0.3, -1.2])];
      const { results } = simulateShards(head, hidden, { shards, topK, targets: [tied] });
      // Explicit expectation, not only the reference: the k smallest tied ids, ascending.
      expect(results[0]!.top.map((t) => t.id)).toEqual(tied.slice(0, topK));
      expectAllRowsMatch(results, referenceSoftmax(head, hidden, topK), [tied], "ties");
      // All tied classes have the same probability.
      for (const t of results[0]!.targets) expect(t.logprob).toBe(results[0]!.targets[0]!.logprob);
    });

    it("a tie on both sides of every boundary, below a unique maximum, keeps id order across shards", () => {
      const { bias, tied } = tiedBias(shards, seedOf(shards, 22));
      const top = vocabSize - 1; // unique best class, in the last shard
      bias[top] = 4;
      const rest = tied.filter((id) => id !== top);
      const topK = rest.length + 3; // every tied class, then the best of the rest
      const head = biasOnlyHead(bias);
      const hidden = [new Float64Array([1, 1])];
      const { results } = simulateShards(head, hidden, { shards, topK });
      const ids = results[0]!.top.map((t) => t.id);
      expect(ids.slice(0, rest.length + 1)).toEqual([top, ...rest]);
      expectAllRowsMatch(results, referenceSoftmax(head, hidden, topK), [], "boundary ties");
    });
  });

  it("all V classes tied and k ≥ V: ids come back as 0 … V−1 for every shard count", () => {
    for (const shards of SHARD_COUNTS) {
      const head = biasOnlyHead(new Float32Array(20).fill(-2.5));
      const { results } = simulateShards(head, [new Float64Array(2)], { shards, topK: 25 });
      expect(results[0]!.top.map((t) => t.id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      for (const t of results[0]!.top) expectWithin(t.logprob, -Math.log(20), 1e-12, `${shards} shards uniform`);
    }
  });

  it("mergeTopK breaks a tie by id even when the larger ids come from the first run", () => {
    const runs = [
      { ids: [10, 11, 12], logits: [1, 1, 0], offset: 0, count: 3 },
      { ids: [3, 4, 5], logits: [1, 1, 1], offset: 0, count: 3 },
    ];
    expect(mergeTopK(runs, 4).map((s) => s.id)).toEqual([3, 4, 5, 10]);
    expect(mergeTopK(runs, 100).map((s) => s.id)).toEqual([3, 4, 5, 10, 11, 12]);
    expect(mergeTopK(runs, 0)).toEqual([]);
  });

  it("comesBefore: larger logit first, then smaller id; never both ways", () => {
    expect(comesBefore(2, 9, 1, 0)).toBe(true);
    expect(comesBefore(1, 0, 2, 9)).toBe(false);
    expect(comesBefore(1, 3, 1, 4)).toBe(true);
    expect(comesBefore(1, 4, 1, 3)).toBe(false);
    expect(comesBefore(-Infinity, 3, -Infinity, 4)).toBe(true);
    expect(comesBefore(-1e30, 0, -Infinity, 1)).toBe(true);
  });
});

describe("extreme logits (|z| ~ 1e3–1e4, where a naive exp overflows)", () => {
  /**
   * W and h on a 1/16 grid in [−4, 4], d = 8, and an integer bias: W·h + b is
   * a multiple of 2⁻⁸ below 2¹⁴, exact in float32, so the sharded result must
   * equal the float64 reference up to float64 rounding alone.
   */
  function gridHead(seed: number, vocabSize: number, biasLo: number, biasHi: number): { head: Head; hidden: Float64Array[] } {
    const uniform = mulberry32(seed);
    const grid = () => randInt(uniform, -64, 65) / 16;
    const dim = 8;
    const weight = Float32Array.from({ length: vocabSize * dim }, grid);
    const bias = Float32Array.from({ length: vocabSize }, () => randInt(uniform, biasLo, biasHi + 1));
    const hidden = Array.from({ length: ROWS }, () => Float64Array.from({ length: dim }, grid));
    return { head: { vocabSize, dim, weight, bias }, hidden };
  }

  const RANGES = [
    { name: "large positive", lo: 1000, hi: 9000 },
    { name: "large negative", lo: -9000, hi: -1000 },
    { name: "mixed ±9000", lo: -9000, hi: 9000 },
  ];

  describe.each(RANGES)("$name logits", ({ lo, hi }) => {
    const vocabSize = 1001;
    const { head, hidden } = gridHead(seedOf(lo, hi, 31), vocabSize, lo, hi);
    const topK = 5;
    const refs = referenceSoftmax(head, hidden, topK);

    it("the test data is exact in float32 and out of reach of a naive exp", () => {
      for (const ref of refs) {
        for (const z of ref.logits) expect(Math.fround(z)).toBe(z);
        const naive = ref.logits.reduce((s, z) => s + Math.exp(z), 0);
        expect(naive === Infinity || naive === 0).toBe(true);
      }
    });

    it.each(SHARD_COUNTS)("%i shard(s): finite and exact to 1e-9", (shards) => {
      const targets = targetsFor(seedOf(lo, shards, 32), vocabSize, shards);
      const { results } = simulateShards(head, hidden, { shards, topK, targets });
      results.forEach((r, row) => {
        const ref = refs[row]!;
        expect(Number.isFinite(r.logZ)).toBe(true);
        expectWithin(r.logZ, ref.logZ, 1e-9, `row ${row} logZ`);
        expect(r.top.map((t) => t.id)).toEqual(ref.topIds);
        for (const t of [...r.top, ...r.targets]) {
          expect(Number.isFinite(t.logprob), `id ${t.id} logprob ${t.logprob}`).toBe(true);
          expectWithin(t.logprob, ref.logProbs[t.id]!, 1e-9, `row ${row} id ${t.id} logprob`);
        }
        expect(r.targets.map((t) => t.id)).toEqual(targets[row]);
      });
    });
  });

  it.each(SHARD_COUNTS)("%i shard(s): continuous float32 weights at |z| ~ 1e4, within the float32 bound", (shards) => {
    const vocabSize = 1009;
    const head = randomHead(seedOf(shards, 33), vocabSize, DIM, 500, 2000);
    const hidden = randomHidden(seedOf(34), ROWS, DIM);
    const targets = targetsFor(seedOf(shards, 35), vocabSize, shards);
    const refs = referenceSoftmax(head, hidden, 5);
    const scale = Math.max(...refs.map((r) => Math.max(...r.logits.map(Math.abs))));
    expect(scale).toBeGreaterThan(3000);
    const { results } = simulateShards(head, hidden, { shards, topK: 5, targets });
    expectAllRowsMatch(results, refs, targets, "continuous extreme");
  });

  it("combineLogSumExp of two maxima of 1000 is 1000 + ln 2 (naive: Infinity)", () => {
    expectWithin(combineLogSumExp([1000, 1000], [1, 1]), 1000 + Math.LN2, 1e-12, "logZ");
    expectWithin(combineLogSumExp([-1000, -1000, -1001], [1, 1, 0]), -1000 + Math.LN2, 1e-12, "logZ");
    expectWithin(combineLogSumExp([1e4, 1e4 - 1], [3, 2]), 1e4 + Math.log(3 + 2 * Math.exp(-1)), 1e-9, "logZ");
  });
});

describe("temperature scales logits as z / T", () => {
  it("scaleLogit divides", () => {
    expect(scaleLogit(3, 0.5)).toBe(6);
    expect(scaleLogit(3, 2)).toBe(1.5);
    expect(scaleLogit(-4, 0.01)).toBe(-400);
  });

  describe.each([0.5, 2, 0.01])("T=%d", (temperature) => {
    const vocabSize = 1009;
    const head = randomHead(seedOf(41), vocabSize, DIM);
    const hidden = randomHidden(seedOf(42), ROWS, DIM);
    const refs = referenceSoftmax(head, hidden, 5, temperature);
    const unscaled = referenceSoftmax(head, hidden, 5, 1);

    it.each([1, 3, 8])("%i shard(s) match the reference at z / T", (shards) => {
      const targets = targetsFor(seedOf(shards, 43), vocabSize, shards);
      const { results } = simulateShards(head, hidden, { shards, topK: 5, targets, temperature });
      expectAllRowsMatch(results, refs, targets, `T=${temperature}`);
      // Not vacuous: the scaled answer differs from the T = 1 answer by far more than the tolerance.
      expect(Math.abs(results[0]!.logZ - unscaled[0]!.logZ)).toBeGreaterThan(0.01);
    });
  });
});

describe("a class with bias −1e30", () => {
  const vocabSize = 1009;
  const shards8 = splitAll(vocabSize, 8);
  const dead = [0, shards8[3]!.start, shards8[3]!.start - 1, 500, vocabSize - 1];

  function deadHead(): Head {
    const head = randomHead(seedOf(51), vocabSize, DIM);
    const bias = Float64Array.from(head.bias);
    for (const id of dead) bias[id] = -1e30;
    return { ...head, bias };
  }

  describe.each(SHARD_COUNTS)("%i shard(s)", (shards) => {
    const head = deadHead();
    const hidden = randomHidden(seedOf(52), ROWS, DIM);
    const targets = hidden.map(() => [...dead, 7, ...dead]);

    it("has log-prob ≈ −1e30, never NaN, and stays out of the top-k", () => {
      const refs = referenceSoftmax(head, hidden, 10);
      const { results } = simulateShards(head, hidden, { shards, topK: 10, targets });
      expectAllRowsMatch(results, refs, targets, "−1e30");
      for (const r of results) {
        for (const t of r.top) expect(dead).not.toContain(t.id);
        for (const t of r.targets) {
          if (t.id === 7) continue;
          expect(t.logprob).toBeLessThan(-0.99e30);
          expect(t.logprob).toBeGreaterThan(-1.01e30);
        }
      }
    });

    it.each([vocabSize, vocabSize + 7])("enters the top-k (last, by id) only when k=%i ≥ V", (topK) => {
      const refs = referenceSoftmax(head, hidden, topK);
      const { results } = simulateShards(head, hidden, { shards, topK });
      expectAllRowsMatch(results, refs, [], "k ≥ V");
      for (const r of results) {
        expect(r.top).toHaveLength(vocabSize);
        expect(r.top.slice(-dead.length).map((t) => t.id)).toEqual([...dead].sort((a, b) => a - b));
        expect(r.top.slice(-dead.length).every((t) => t.prob === 0)).toBe(true);
      }
    });
  });
});

describe("a whole shard of −∞ classes contributes nothing", () => {
  const vocabSize = 1001;

  describe.each([2, 3, 8])("%i shards", (shards) => {
    const ranges = splitAll(vocabSize, shards);
    const deadShards = shards === 2 ? [0] : [0, shards - 1];
    const deadIds = deadShards.flatMap((s) => Array.from({ length: ranges[s]!.size }, (_, i) => ranges[s]!.start + i));
    const base = randomHead(seedOf(shards, 61), vocabSize, DIM);
    const bias = Float32Array.from(base.bias);
    for (const id of deadIds) bias[id] = -Infinity;
    const head: Head = { ...base, bias };
    const hidden = randomHidden(seedOf(62), ROWS, DIM);
    const targets = targetsFor(seedOf(shards, 63), vocabSize, shards);

    it("logZ, top-k and live targets match the reference; dead targets are exactly −∞", () => {
      const refs = referenceSoftmax(head, hidden, 5);
      const { partials, results } = simulateShards(head, hidden, { shards, topK: 5, targets });
      for (const s of deadShards) expect([...partials[s]!.max]).toEqual(new Array(ROWS).fill(-Infinity));
      expectAllRowsMatch(results, refs, targets, "dead shard");
      for (const r of results) {
        expect(Number.isFinite(r.logZ)).toBe(true);
        for (const t of r.top) expect(deadIds).not.toContain(t.id);
        for (const t of r.targets) if (deadIds.includes(t.id)) expect(t.logprob).toBe(-Infinity);
      }
    });

    it("with k ≥ V the dead classes come last, by id, with probability 0", () => {
      const refs = referenceSoftmax(head, hidden, vocabSize);
      const { results } = simulateShards(head, hidden, { shards, topK: vocabSize });
      expectAllRowsMatch(results, refs, [], "dead shard, k = V");
      for (const r of results) {
        const tail = r.top.slice(-deadIds.length);
        expect(tail.map((t) => t.id)).toEqual(deadIds);
        for (const t of tail) {
          expect(t.logprob).toBe(-Infinity);
          expect(t.prob).toBe(0);
        }
      }
    });
  });

  it("combineLogSumExp ignores an all −∞ shard whatever its sumExp (0 per contract, NaN from a naive exp)", () => {
    const expected = 2 + Math.log(3 + 5 * Math.exp(-1));
    expectWithin(combineLogSumExp([2, -Infinity, 1], [3, 0, 5]), expected, 1e-12, "sumExp 0");
    expectWithin(combineLogSumExp([-Infinity, 2, 1], [Number.NaN, 3, 5]), expected, 1e-12, "sumExp NaN");
    expect(combineLogSumExp([-Infinity, -Infinity], [0, 0])).toBe(-Infinity);
    expect(combineLogSumExp([], [])).toBe(-Infinity);
    expect(logProb(-Infinity, 5)).toBe(-Infinity);
    expect(logProb(3, 5)).toBe(-2);
  });
});

describe("targets", () => {
  const vocabSize = 1001;

  describe.each(SHARD_COUNTS)("%i shard(s)", (shards) => {
    const map = RangeMap.tile(vocabSize, splitAll(vocabSize, shards));
    const uniform = mulberry32(seedOf(shards, 71));
    // Rows of very different shapes keep the per-shard cursors honest:
    // random order with duplicates, all in the last shard, empty, all in the first shard, one id.
    const last = map.ranges[shards - 1]!;
    const first = map.ranges[0]!;
    const targets = [
      shuffle(uniform, [...spanningTargets(uniform, map.ranges, vocabSize), ...spanningTargets(uniform, map.ranges, vocabSize)]),
      [last.end - 1, last.start, last.end - 1, last.start + 1],
      [],
      [first.start, first.end - 1, first.start, first.start],
      [randInt(uniform, 0, vocabSize)],
    ];
    const head = randomHead(seedOf(72), vocabSize, DIM);
    const hidden = randomHidden(seedOf(73), targets.length, DIM);

    it("come back in the asked order, duplicates included, each with its own log-prob", () => {
      const { results } = simulateShards(head, hidden, { shards, topK: 3, targets });
      expectAllRowsMatch(results, referenceSoftmax(head, hidden, 3), targets, "targets");
    });

    it("routeFlatTargets sends each shard exactly its ids, row by row in asked order", () => {
      const flat = { counts: Uint32Array.from(targets, (t) => t.length), ids: Uint32Array.from(targets.flat()) };
      const { perPart, owners } = routeFlatTargets(flat, shards, (id) => map.owner(id));
      expect(perPart).toHaveLength(shards);
      map.ranges.forEach((range, s) => {
        const perRow = targets.map((row) => row.filter((id) => range.contains(id)));
        expect([...perPart[s]!.counts], `shard ${s} counts`).toEqual(perRow.map((r) => r.length));
        expect([...perPart[s]!.ids], `shard ${s} ids`).toEqual(perRow.flat());
      });
      expect([...owners]).toEqual(targets.flat().map((id) => map.owner(id)));
    });
  });
});

describe("top-k size", () => {
  const head = randomHead(seedOf(81), 1009, DIM);
  const hidden = randomHidden(seedOf(82), ROWS, DIM);

  it.each(SHARD_COUNTS)("topK = 0 returns no classes but the right logZ and targets (%i shards)", (shards) => {
    const targets = targetsFor(seedOf(shards, 83), 1009, shards);
    const { partials, results } = simulateShards(head, hidden, { shards, topK: 0, targets });
    for (const p of partials) expect(p.topIds).toHaveLength(0);
    expectAllRowsMatch(results, referenceSoftmax(head, hidden, 0), targets, "topK=0");
    for (const r of results) expect(r.top).toEqual([]);
  });

  it.each(
    SHARD_COUNTS.flatMap((shards) => [
      { shards, vocabSize: 20, topK: 21 },
      { shards, vocabSize: 20, topK: 1000 },
      { shards, vocabSize: shards, topK: shards + 2 },
    ]),
  )("topK=$topK > V=$vocabSize returns all V classes in order ($shards shards)", ({ shards, vocabSize, topK }) => {
    const small = randomHead(seedOf(vocabSize, 84), vocabSize, DIM);
    const { results } = simulateShards(small, hidden, { shards, topK });
    const refs = referenceSoftmax(small, hidden, topK);
    expectAllRowsMatch(results, refs, [], "topK > V");
    for (const r of results) {
      expect(r.top).toHaveLength(vocabSize);
      expectWithin(
        r.top.reduce((s, t) => s + t.prob, 0),
        1,
        1e-5,
        "probabilities of all V classes sum to 1",
      );
    }
  });
});

describe("partialOfLogits keeps the shard contract", () => {
  it.each([
    { name: "random", seed: 91, ties: false, negInf: false },
    { name: "with ties", seed: 92, ties: true, negInf: false },
    { name: "with −∞", seed: 93, ties: true, negInf: true },
  ])("$name: equals an independent computation", ({ seed, ties, negInf }) => {
    const uniform = mulberry32(seed);
    const size = 257;
    const start = 4096;
    const logits = Float32Array.from({ length: size }, () => (ties ? Math.round(uniform() * 8) / 4 : uniform() * 20 - 10));
    if (negInf) for (let i = 0; i < size; i += 3) logits[i] = -Infinity;
    const targets = [start + size - 1, start, start + 17, start, start + 100];
    for (const k of [0, 1, 5, size, size + 3]) {
      const got = partialOfLogits(logits, start, k, targets);
      const want = ownPartial(logits, start, k, targets);
      expect(got.max).toBe(want.max);
      expectWithin(got.sumExp, want.sumExp, 1e-12 * want.sumExp, `k=${k} sumExp`);
      expect(got.sumExp).toBeGreaterThanOrEqual(1);
      expect(got.sumExp).toBeLessThanOrEqual(size);
      expect(got.top).toEqual(want.top);
      expect(got.targetLogits).toEqual(want.targetLogits);
    }
  });

  it("an all −∞ shard has max −∞ and sumExp 0", () => {
    const got = partialOfLogits(new Float32Array(4).fill(-Infinity), 10, 2, [11]);
    expect(got.max).toBe(-Infinity);
    expect(got.sumExp).toBe(0);
    expect(got.top).toEqual([
      { id: 10, logit: -Infinity },
      { id: 11, logit: -Infinity },
    ]);
    expect(got.targetLogits).toEqual([-Infinity]);
  });
});

describe("merge guards", () => {
  it("refuses to merge fewer partials than ranges (never a subset softmax)", async () => {
    const { mergePartials } = await import("../../shared/math/merge.js");
    const { RangeMap, splitAll } = await import("../../shared/ranges.js");
    const one = partialFrom({
      rows: 1,
      k: 1,
      max: new Float64Array([0]),
      sumExp: new Float64Array([1]),
      topIds: new Uint32Array([0]),
      topLogits: new Float32Array([0]),
    });
    expect(() => mergePartials(RangeMap.tile(10, splitAll(10, 2)), [one], 1, [])).toThrow(/one partial/);
  });
});
