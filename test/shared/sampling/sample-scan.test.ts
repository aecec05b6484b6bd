/**
 * Record chains: the pruned scan of one part equals the brute-force chain
 * (every class's key from the specification of G), for any limit, chained or
 * not, with ties, −∞ classes and parts that cut groups of 256; and the chains
 * of consecutive parts merged by the one combine equal the chain of the whole.
 */
import { describe, expect, it } from "vitest";
import { combinePartials } from "../../../shared/math/combine-partials.js";
import { partialFrom } from "../../../shared/math/partial.js";
import { GROUP_SIZE } from "../../../shared/sampling/gumbel.js";
import { chainOf, type DrawRecord, recordStarts } from "../../../shared/sampling/sample-records.js";
import { maximaOf, NO_LIMIT, type OrderLimit, scanChain } from "../../../shared/sampling/sample-scan.js";

const groupMaxima = (row: { logits: Float32Array; start: number }) => maximaOf(row, GROUP_SIZE);

import { specGumbel } from "../../helpers/reference-sampling.js";
import { mulberry32, normal } from "../../helpers/reference-softmax.js";

/** The chain by definition: classes in class order, each kept when its key beats every key before it. */
function bruteChain(logits: Float32Array, start: number, seed: number, draw: number, limit: OrderLimit, chained: boolean): DrawRecord[] {
  const all: DrawRecord[] = [];
  logits.forEach((z, i) => {
    const id = start + i;
    const inside = z > limit.logit || (z === limit.logit && id <= limit.id);
    if (z !== -Infinity && inside) all.push({ id, logit: z, key: z + specGumbel(seed, draw, id) });
  });
  const chain = chainOf(all);
  return chained ? chain : chain.slice(-1);
}

function topList(logits: Float32Array, start: number, k: number) {
  const order = Array.from(logits.keys())
    .sort((a, b) => logits[b]! - logits[a]! || a - b)
    .slice(0, k);
  return { topIds: Uint32Array.from(order, (i) => start + i), topLogits: Float32Array.from(order, (i) => logits[i]!), topCount: order.length };
}

function randomLogits(seed: number, n: number, scale: number): Float32Array {
  const gauss = normal(mulberry32(seed));
  const z = Float32Array.from({ length: n }, () => gauss() * scale);
  z[3] = z[4]!; // a tie
  z[n - 2] = -Infinity;
  return z;
}

describe("scanChain", () => {
  const cases = [
    { name: "flat logits", scale: 0.05 },
    { name: "spread logits", scale: 2 },
    { name: "peaked logits", scale: 20 },
  ];
  it.each(cases)("equals the brute-force chain ($name), whatever the limit", ({ scale }) => {
    const start = 1000; // not a multiple of 256: the part cuts groups
    for (let trial = 0; trial < 6; trial++) {
      const logits = randomLogits(trial * 7 + Math.round(scale * 10), 700, scale);
      const top = topList(logits, start, 5);
      const row = { logits, start, ...top };
      const maxima = groupMaxima(row);
      const sorted = [...logits].filter((z) => z !== -Infinity).sort((a, b) => b - a);
      const limits: OrderLimit[] = [
        NO_LIMIT,
        { logit: sorted[3]!, id: start + 699 },
        { logit: sorted[300]!, id: start + 350 },
        { logit: sorted[0]!, id: start },
      ];
      for (const limit of limits) {
        for (const chained of [false, true]) {
          for (const draw of [0, 5]) {
            const seed = 77 + trial;
            expect(scanChain(row, maxima, seed, draw, limit, chained), `trial ${trial} limit ${limit.logit}/${limit.id} chained ${chained}`).toEqual(
              bruteChain(logits, start, seed, draw, limit, chained),
            );
          }
        }
      }
    }
  });

  it("returns nothing for a part whose classes are all −∞", () => {
    const logits = new Float32Array(300).fill(-Infinity);
    const row = { logits, start: 0, topIds: Uint32Array.of(0), topLogits: Float32Array.of(-Infinity), topCount: 1 };
    expect(scanChain(row, groupMaxima(row), 1, 0, NO_LIMIT, true)).toEqual([]);
  });
});

describe("the one combine merges chains", () => {
  it("the chains of consecutive parts combine into the chain of the whole", () => {
    const logits = randomLogits(91, 1500, 1.5);
    const cuts = [0, 1, 255, 256, 700, 1499, 1500];
    const seed = 4242;
    const draws = 3;
    const parts = cuts.slice(1).map((end, p) => {
      const start = cuts[p]!;
      const slice = logits.subarray(start, end);
      const chains = Array.from({ length: draws }, (_, j) => bruteChain(slice, start, seed, j, NO_LIMIT, true));
      const flat = chains.flat();
      return partialFrom({
        rows: 1,
        k: 0,
        max: Float64Array.of(Math.max(...slice)),
        sumExp: Float64Array.of(1),
        drawCounts: Uint32Array.of(draws),
        drawRecords: Uint32Array.from(chains, (c) => c.length),
        recordIds: Uint32Array.from(flat, (r) => r.id),
        recordLogits: Float32Array.from(flat, (r) => r.logit),
        recordKeys: Float64Array.from(flat, (r) => r.key),
      });
    });
    const whole = combinePartials(parts, 0, []);
    const starts = recordStarts(whole);
    for (let j = 0; j < draws; j++) {
      const got = Array.from({ length: whole.drawRecords[j]! }, (_, t) => whole.recordIds[starts[j]! + t]!);
      expect(got).toEqual(bruteChain(logits, 0, seed, j, NO_LIMIT, true).map((r) => r.id));
    }
  });
});
