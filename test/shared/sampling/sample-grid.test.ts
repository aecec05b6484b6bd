/**
 * Mass grids: the grids of parts combine into the grid of the whole, and the
 * bracket a grid gives for the mass before any class in class order always
 * holds that mass (so a record decided from it is decided right).
 */
import { describe, expect, it } from "vitest";
import { combineGrids, GRID_POINTS, massBracket, partGrid } from "../../../shared/sampling/sample-grid.js";
import { mulberry32, normal } from "../../helpers/reference-softmax.js";

function logits(seed: number, n: number, scale: number): Float32Array {
  const gauss = normal(mulberry32(seed));
  return Float32Array.from({ length: n }, () => gauss() * scale);
}

const maxOf = (z: Float32Array) => z.reduce((m, v) => Math.max(m, v), -Infinity);

describe("mass grids", () => {
  it.each([0.3, 3, 30])("parts combine into the whole's grid (logit scale %s)", (scale) => {
    const z = logits(Math.round(scale * 10), 5000, scale);
    const cuts = [0, 700, 701, 3000, 5000];
    const parts = cuts.slice(1).map((end, i) => {
      const part = z.subarray(cuts[i]!, end);
      return partGrid(part, maxOf(part));
    });
    const whole = partGrid(z, maxOf(z));
    const combined = combineGrids(parts);
    expect(combined[0]).toBe(whole[0]);
    for (let b = 1; b <= GRID_POINTS; b++) {
      if (whole[b] === -Infinity) expect(combined[b]).toBe(-Infinity);
      else expect(Math.abs(combined[b]! - whole[b]!)).toBeLessThan(1e-9 * (1 + Math.abs(whole[b]!)));
    }
  });

  it.each([0.3, 3, 30])("brackets the mass before every class (logit scale %s)", (scale) => {
    const z = logits(Math.round(scale * 100), 3000, scale);
    z[10] = z[11]!; // a tie: the id decides the order
    const grid = partGrid(z, maxOf(z));
    const order = Array.from(z.keys()).sort((a, b) => z[b]! - z[a]! || a - b);
    let before = 0;
    let bracketed = 0;
    for (const i of order) {
      const bracket = massBracket(grid, z[i]!);
      if (bracket) {
        const logBefore = before === 0 ? -Infinity : Math.log(before);
        expect(bracket.low).toBeLessThanOrEqual(logBefore + 1e-9);
        expect(bracket.high).toBeGreaterThanOrEqual(logBefore - 1e-9);
        bracketed++;
      }
      before += Math.exp(z[i]!);
    }
    expect(bracketed).toBeGreaterThan(0);
  });

  it("a part whose classes are all −∞ adds nothing", () => {
    const z = logits(5, 100, 1);
    const empty = partGrid(new Float32Array(10).fill(-Infinity), -Infinity);
    expect(combineGrids([partGrid(z, maxOf(z)), empty])).toEqual(partGrid(z, maxOf(z)));
  });
});
