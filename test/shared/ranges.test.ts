/**
 * Class ranges and the range map: splitting [0, V) into near-equal ranges,
 * validation of a single range, and the proof that a shard set tiles [0, V).
 */
import { describe, expect, it } from "vitest";
import { type ErrorCode, ShardmaxError } from "../../shared/errors.js";
import { ClassRange, RangeMap, splitAll, splitRange } from "../../shared/ranges.js";
import { mulberry32, randInt, shuffle } from "../helpers/reference-softmax.js";

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected a ShardmaxError ${code}`).toBeInstanceOf(ShardmaxError);
  expect((thrown as ShardmaxError).code).toBe(code);
}

const r = (start: number, end: number) => ClassRange.of(start, end);

describe("ClassRange.of", () => {
  it("builds a half-open range", () => {
    const range = r(3, 7);
    expect([range.start, range.end, range.size]).toEqual([3, 7, 4]);
    expect([2, 3, 6, 7].map((id) => range.contains(id))).toEqual([false, true, true, false]);
    expect(range.equals(r(3, 7))).toBe(true);
    expect(range.equals(r(3, 8))).toBe(false);
    expect(String(range)).toBe("[3, 7)");
    expect(r(0, 1).size).toBe(1);
  });

  it.each([
    ["empty", 5, 5],
    ["reversed", 5, 3],
    ["negative start", -1, 3],
    ["non-integer start", 0.5, 3],
    ["non-integer end", 0, 2.5],
    ["NaN", Number.NaN, 3],
    ["infinite end", 0, Infinity],
    ["unsafe integer end", 0, 2 ** 53],
  ])("rejects %s [%d, %d) with INVALID_ARGUMENT", (_name, start, end) => {
    expectCode(() => ClassRange.of(start, end), "INVALID_ARGUMENT");
  });
});

describe("splitRange / splitAll", () => {
  const uniform = mulberry32(101);
  const cases: [number, number][] = [
    [1, 1],
    [2, 2],
    [7, 7],
    [8, 3],
    [20, 8],
    [1001, 8],
    [1009, 3],
    [32001, 8],
    [32000, 7],
    [131072, 4],
    [256000, 13],
  ];
  for (let i = 0; i < 40; i++) {
    const vocab = randInt(uniform, 1, 5000);
    cases.push([vocab, randInt(uniform, 1, Math.min(vocab, 64) + 1)]);
  }

  it.each(cases)("V=%i into %i ranges: contiguous tiling of [0, V), sizes differ by at most one", (vocab, count) => {
    const ranges = splitAll(vocab, count);
    expect(ranges).toHaveLength(count);
    let next = 0;
    for (const [i, range] of ranges.entries()) {
      expect(range.start, `range ${i} starts where ${i - 1} ended`).toBe(next);
      expect(range.size).toBeGreaterThanOrEqual(1);
      expect(range.equals(splitRange(vocab, i, count))).toBe(true);
      next = range.end;
    }
    expect(next).toBe(vocab);
    const sizes = ranges.map((x) => x.size);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(vocab);
    // The longer ranges come first, as documented.
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    // And the result is accepted as a tiling.
    expect(RangeMap.tile(vocab, ranges).ranges).toHaveLength(count);
  });

  it("n = V gives one class per range", () => {
    expect(splitAll(5, 5).map(String)).toEqual(["[0, 1)", "[1, 2)", "[2, 3)", "[3, 4)", "[4, 5)"]);
  });

  it.each([
    ["index −1", 10, -1, 3],
    ["index = count", 10, 3, 3],
    ["non-integer index", 10, 1.5, 3],
    ["NaN index", 10, Number.NaN, 3],
    ["count 0", 10, 0, 0],
    ["negative count", 10, 0, -2],
    ["non-integer count", 10, 0, 2.5],
    ["more ranges than classes", 3, 0, 4],
    ["empty vocabulary", 0, 0, 1],
  ])("rejects %s with INVALID_ARGUMENT", (_name, vocab, index, count) => {
    expectCode(() => splitRange(vocab, index, count), "INVALID_ARGUMENT");
  });
});

describe("RangeMap.tile", () => {
  it("accepts the ranges in any order and sorts them by start", () => {
    const uniform = mulberry32(202);
    const ranges = splitAll(1001, 8);
    for (let trial = 0; trial < 20; trial++) {
      const map = RangeMap.tile(1001, shuffle(uniform, [...ranges]));
      expect(map.vocabSize).toBe(1001);
      expect(map.ranges.map(String)).toEqual(ranges.map(String));
    }
  });

  it("accepts uneven ranges and a single range", () => {
    expect(RangeMap.tile(10, [r(7, 10), r(0, 1), r(1, 7)]).ranges.map((x) => x.start)).toEqual([0, 1, 7]);
    expect(RangeMap.tile(1, [r(0, 1)]).ranges).toHaveLength(1);
  });

  it.each([
    ["a gap in the middle", 10, [r(0, 3), r(4, 10)]],
    ["a gap at the start", 10, [r(1, 5), r(5, 10)]],
    ["an overlap", 10, [r(0, 5), r(4, 10)]],
    ["a range inside another", 10, [r(0, 10), r(2, 3)]],
    ["a duplicate range", 10, [r(0, 5), r(0, 5), r(5, 10)]],
    ["short coverage", 10, [r(0, 5), r(5, 9)]],
    ["overlong coverage", 10, [r(0, 5), r(5, 11)]],
    ["no ranges at all", 10, []],
  ])("rejects %s with MODEL_MISMATCH", (_name, vocab, ranges) => {
    expectCode(() => RangeMap.tile(vocab, ranges), "MODEL_MISMATCH");
  });
});

describe("RangeMap.owner", () => {
  /** A random tiling of [0, V) into `count` ranges, shuffled. */
  function randomTiling(uniform: () => number, vocab: number, count: number): ClassRange[] {
    const cuts = new Set<number>();
    while (cuts.size < count - 1) cuts.add(randInt(uniform, 1, vocab));
    const bounds = [0, ...[...cuts].sort((a, b) => a - b), vocab];
    return shuffle(
      uniform,
      bounds.slice(1).map((end, i) => r(bounds[i]!, end)),
    );
  }

  const uniform = mulberry32(303);
  const cases = Array.from({ length: 30 }, (_, i) => {
    const vocab = i < 3 ? [1, 2, 5][i]! : randInt(uniform, 1, 3000);
    const count = randInt(uniform, 1, Math.min(vocab, 40) + 1);
    return { vocab, count, seed: 1000 + i };
  });

  it.each(cases)("agrees with a linear scan for every id (V=$vocab, $count ranges)", ({ vocab, count, seed }) => {
    const map = RangeMap.tile(vocab, randomTiling(mulberry32(seed), vocab, count));
    for (let id = 0; id < vocab; id++) {
      const scan = map.ranges.findIndex((range) => range.contains(id));
      expect(map.owner(id), `id ${id}`).toBe(scan);
    }
  });
});
