/**
 * Settings shared by the fuzz tests: a fixed seed so a failure replays, and
 * FUZZ_RUNS to run more cases than `npm test` does (e.g. FUZZ_RUNS=100000).
 */
import fc from "fast-check";

export const FUZZ_SEED = 20261204;

/** `base` cases per property in `npm test`; FUZZ_RUNS replaces it. */
export function fuzzRuns(base: number): number {
  const asked = Number(process.env.FUZZ_RUNS);
  return Number.isSafeInteger(asked) && asked > 0 ? asked : base;
}

export function fuzzParameters(base: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: fuzzRuns(base), endOnFailure: true };
}

/** JSON-ish values that hostile clients send: wrong types, deep nesting, huge and odd numbers. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, "", "1.5", "NaN", 1e308, -1e308, 2 ** 53, -0, 1.5, 4294967296, -1),
  fc.integer({ min: -10, max: 2000 }),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.object({ maxDepth: 2, maxKeys: 3 }),
);
