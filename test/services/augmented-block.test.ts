/**
 * The augmented layout the shard's graph multiplies by: W' = [W | b] with
 * rows padded to whole exp-sum groups by rows of logit −∞, and
 * h' = [h/T | 1/T], so that h'·W'ᵀ is the scaled logit. Checked entry by
 * entry, and by the product itself in float64.
 */
import { describe, expect, it } from "vitest";
import { augmentedLength, augmentHidden, augmentInPlace, paddedRows, SUM_GROUP } from "../../services/shard/augmented-block.js";
import { invalidArgument } from "../helpers/expect-errors.js";

describe("augmentInPlace", () => {
  it.each([1, 255, 256, 257, 700])("spreads %i rows to stride d + 1, appends the bias and pads to a whole group", (rows) => {
    const dim = 5;
    const weight = Float32Array.from({ length: rows * dim }, (_, i) => i + 1);
    const bias = Float32Array.from({ length: rows }, (_, r) => -r - 0.5);
    const buffer = new Float32Array(augmentedLength(rows, dim) + 3).fill(NaN);
    buffer.set(weight);
    const out = augmentInPlace(buffer, rows, dim, bias);
    const padded = paddedRows(rows);
    expect(padded % SUM_GROUP).toBe(0);
    expect(padded - rows).toBeLessThan(SUM_GROUP);
    expect(out.length).toBe(padded * (dim + 1));
    for (let r = 0; r < padded; r++) {
      const row = Array.from(out.subarray(r * (dim + 1), (r + 1) * (dim + 1)));
      if (r < rows) expect(row).toEqual([...Array.from(weight.subarray(r * dim, (r + 1) * dim)), bias[r]]);
      else expect(row).toEqual([0, 0, 0, 0, 0, -Infinity]);
    }
  });

  it("gives a head without a bias a zero column", () => {
    const buffer = new Float32Array(augmentedLength(2, 2));
    buffer.set([1, 2, 3, 4]);
    expect(Array.from(augmentInPlace(buffer, 2, 2, null).subarray(0, 6))).toEqual([1, 2, 0, 3, 4, 0]);
  });

  it("refuses a buffer too small for the padded block", () => {
    expect(() => augmentInPlace(new Float32Array(10 * 3), 10, 2, null)).toThrow(/needed/);
  });
});

describe("augmentHidden", () => {
  it("each entry is h/T rounded once to float32, then 1/T; the product with W' is (h·w + b)/T", () => {
    const dim = 3;
    const hidden = Float32Array.from([0.1, -2, 3e-5, 7, 0, -1]);
    const temperature = Float32Array.from([0.3, 1]);
    const out = augmentHidden(hidden, temperature, 2, dim);
    const t = temperature[0]!;
    const scaled = [hidden[0]! / t, hidden[1]! / t, hidden[2]! / t, 1 / t].map(Math.fround);
    expect(Array.from(out)).toEqual([...scaled, 7, 0, -1, 1]);
    const w = [0.5, 0.25, -4];
    const b = 1.5;
    const want = (hidden[0]! * w[0]! + hidden[1]! * w[1]! + hidden[2]! * w[2]! + b) / t;
    const got = out[0]! * w[0]! + out[1]! * w[1]! + out[2]! * w[2]! + out[3]! * b;
    expect(Math.abs(got - want)).toBeLessThan(1e-6 * Math.abs(want));
  });
});

describe("augmentHidden refuses what float32 cannot carry (an infinity would meet the padding rows as NaN)", () => {
  const hidden = Float32Array.of(1, -2, 0.5, 3);
  it.each([
    ["a temperature whose float32 is ∞ (1/T = 0)", Float32Array.of(1, 3.5e38), /row 1: temperature/],
    ["a temperature whose inverse overflows", Float32Array.of(1e-40, 1), /row 0: temperature/],
  ])("%s", async (_, temperature, message) => {
    const err = await invalidArgument((async () => augmentHidden(hidden, temperature, 2, 2))());
    expect(err.message).toMatch(message);
  });

  it("a row whose h/T overflows, naming the row", async () => {
    const err = await invalidArgument((async () => augmentHidden(Float32Array.of(1, 2, 3e38, 1), Float32Array.of(1, 0.01), 2, 2))());
    expect(err.message).toMatch(/row 1: hidden\/temperature overflows float32/);
  });
});
