/**
 * Goodness of fit: draws from real shards through the gateway, ≥ 100 000 per
 * case with fixed seeds, against the probabilities of the float64 softmax of
 * the same head renormalised over the allowed set, by Pearson's χ² computed
 * here. A case passes at p ≥ 1e-4 (a true sampler fails one case in 10 000;
 * the seeds are fixed, so the outcome is too). Draws outside the allowed set
 * fail at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { allowedClasses, chiSquare, type Restrict } from "../helpers/reference-sampling.js";
import { randomHead, randomHidden, referenceLogits, referenceRow } from "../helpers/reference-softmax.js";

const V = 120;
const D = 8;
const head = randomHead(31, V, D, 0.6, 0.8);
const row = Array.from(randomHidden(32, 1, D)[0]!, Math.fround);
const ROWS = 256;
const DRAWS = 64;
const REQUESTS = 7; // 7 × 256 rows × 64 draws = 114 688 draws per case
const SIGNIFICANCE = 1e-4;

let shards: InProcessShards;
let gateway: TestGateway;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 37],
    [37, 90],
    [90, V],
  ]);
  gateway = await startGateway(shards.addresses, {
    limits: { maxRows: ROWS, maxTopK: 1000, maxTargetsPerRow: 10, maxResponseBytes: 64 << 20, maxDraws: DRAWS },
  });
  for (let i = 0; i < 200 && (await gateway.get("/readyz")).status !== 200; i++) await new Promise((r) => setTimeout(r, 25));
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await shards?.stop();
});

const cases: { name: string; temperature: number; restrict: Restrict; seed: number }[] = [
  { name: "T = 0.5", temperature: 0.5, restrict: {}, seed: 1_000_000 },
  { name: "T = 1", temperature: 1, restrict: {}, seed: 2_000_000 },
  { name: "T = 2", temperature: 2, restrict: {}, seed: 3_000_000 },
  { name: "top-k 10", temperature: 1, restrict: { topK: 10 }, seed: 4_000_000 },
  { name: "top-p 0.7", temperature: 1, restrict: { topP: 0.7 }, seed: 5_000_000 },
  { name: "min-p 0.1", temperature: 1, restrict: { minP: 0.1 }, seed: 6_000_000 },
];

describe("sample frequencies match the renormalised restricted distribution", () => {
  it.each(cases)(
    "$name",
    async ({ temperature, restrict, seed }) => {
      const ref = referenceRow(referenceLogits(head, row, temperature), 0);
      const allowed = allowedClasses(ref, restrict);
      const mass = allowed.reduce((s, i) => s + Math.exp(ref.logProbs[i]!), 0);
      const p = new Map(allowed.map((i) => [i, Math.exp(ref.logProbs[i]!) / mass]));
      const counts = new Map<number, number>();
      let total = 0;
      for (let q = 0; q < REQUESTS; q++) {
        const res = await gateway.post("/v1/softmax", {
          hidden: Array(ROWS).fill(row),
          topK: 0,
          temperature,
          sample: { n: DRAWS, seed: seed + q * ROWS, ...restrict },
        });
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
        for (const r of res.body.results) {
          for (const s of r.samples) {
            expect(p.has(s.id), `class ${s.id} is outside the allowed set`).toBe(true);
            counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
            total++;
          }
        }
      }
      expect(total).toBeGreaterThanOrEqual(100_000);
      const fit = chiSquare(counts, p, total);
      expect(fit.pValue, `χ² = ${fit.statistic.toFixed(1)} on ${fit.dof} degrees of freedom`).toBeGreaterThanOrEqual(SIGNIFICANCE);
    },
    120_000,
  );

  it("a sampler that is off by a little fails the same test (the test has power)", () => {
    // 100 000 draws from p with 10% of the mass of the top class moved to the next one.
    const ref = referenceRow(referenceLogits(head, row, 1), 0);
    const p = new Map(Array.from(ref.logProbs, (lp, i) => [i, Math.exp(lp)] as [number, number]));
    const order = [...p.keys()].sort((a, b) => p.get(b)! - p.get(a)!);
    const skewed = new Map(p);
    skewed.set(order[0]!, p.get(order[0]!)! * 0.9);
    skewed.set(order[1]!, p.get(order[1]!)! + p.get(order[0]!)! * 0.1);
    const total = 100_000;
    const counts = new Map([...skewed].map(([i, q]) => [i, Math.round(q * total)]));
    expect(chiSquare(counts, p, total).pValue).toBeLessThan(SIGNIFICANCE);
  });
});
