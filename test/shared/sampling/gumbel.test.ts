/**
 * G, the documented noise: the library's implementation equals the
 * specification written out again in the test (BigInt arithmetic), the
 * README's test vectors hold, and the exponential race is what it claims
 * (the holder carries its group's minimum; the noise is standard Gumbel).
 */
import { describe, expect, it } from "vitest";
import { drawKey, exponential, GROUP_SIZE, groupHolder, groupMin, gumbel, MAX_SEED } from "../../../shared/sampling/gumbel.js";
import { specGumbel } from "../../helpers/reference-sampling.js";
import { mulberry32 } from "../../helpers/reference-softmax.js";

describe("G(seed, j, i)", () => {
  it("equals its specification for seeds up to 2^53 − 1, draws and ids up to 2^31", () => {
    const uniform = mulberry32(5);
    const seeds = [0, 1, 1234, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 17, MAX_SEED - 1, MAX_SEED];
    for (let n = 0; n < 2000; n++) {
      const seed = n < seeds.length ? seeds[n]! : Math.floor(uniform() * MAX_SEED);
      const draw = Math.floor(uniform() * 64);
      const id = n % 3 === 0 ? Math.floor(uniform() * 2 ** 31) : Math.floor(uniform() * 4096);
      expect(gumbel(seed, draw, id), `seed ${seed} draw ${draw} id ${id}`).toBe(specGumbel(seed, draw, id));
    }
  });

  it("keeps the README's test vectors", () => {
    expect(gumbel(0, 0, 0)).toBe(specGumbel(0, 0, 0));
    expect([gumbel(0, 0, 0), gumbel(1234, 0, 17), gumbel(1234, 3, 131071), gumbel(MAX_SEED, 63, 2 ** 31 - 1)].map((g) => g.toFixed(12))).toEqual(
      README_VECTORS,
    );
  });

  it("gives the holder of a group its minimum, and every member a larger exponential", () => {
    for (const seed of [3, 99, MAX_SEED]) {
      const key = drawKey(seed, 1);
      for (const group of [0, 1, 511]) {
        const holder = groupHolder(key, group);
        expect(holder).toBeGreaterThanOrEqual(group * GROUP_SIZE);
        expect(holder).toBeLessThan((group + 1) * GROUP_SIZE);
        const min = groupMin(key, group);
        expect(exponential(key, holder)).toBe(min);
        for (let id = group * GROUP_SIZE; id < (group + 1) * GROUP_SIZE; id++) if (id !== holder) expect(exponential(key, id)).toBeGreaterThan(min);
      }
    }
  });

  it("is standard Gumbel: mean γ, variance π²/6, P(G ≤ 0) = 1/e (200k values)", () => {
    const n = 200_000;
    let sum = 0;
    let squares = 0;
    let belowZero = 0;
    for (let i = 0; i < n; i++) {
      const g = gumbel(7 + (i % 13), i % 5, i);
      sum += g;
      squares += g * g;
      if (g <= 0) belowZero++;
    }
    const mean = sum / n;
    const variance = squares / n - mean * mean;
    // Standard errors: √(π²/6 / n) ≈ 0.0029 for the mean, ~0.011 for the variance, ~0.0011 for the fraction.
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(0.015);
    expect(Math.abs(variance - Math.PI ** 2 / 6)).toBeLessThan(0.06);
    expect(Math.abs(belowZero / n - Math.exp(-1))).toBeLessThan(0.006);
  });

  it("differs between seeds, draws and ids", () => {
    const values = new Set<number>();
    for (const seed of [0, 1, 2]) for (const draw of [0, 1]) for (const id of [0, 1, 256]) values.add(gumbel(seed, draw, id));
    expect(values.size).toBe(18);
  });
});

/** Printed in the README; recomputed by any client that implements G. */
const README_VECTORS = ["0.113522155118", "-0.403850365114", "0.542219930939", "3.139484059070"];
