/**
 * Exact sampling end to end: real onnxruntime shards (in this process, on
 * port 0) behind a real gateway, for 1, 2, 3 (one cut into small blocks) and
 * 5 uneven shards. Every draw equals the float64 rule over the whole
 * vocabulary computed in the test (reference-sampling.ts), for every
 * restriction; the same seed gives the same draws alone, batched with other
 * queries and through gRPC; top-p reaching past the merged candidates takes
 * exactly one more round; bad sampling input is refused naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { MAX_SEED } from "../../shared/sampling/gumbel.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { allowedClasses, type Restrict, referenceDraw } from "../helpers/reference-sampling.js";
import { type Head, randomHead, randomHidden, referenceLogits, referenceRow } from "../helpers/reference-softmax.js";

const V = 1009;
const D = 16;
const N = 8;
const SEED = 1234;
const head = randomHead(21, V, D, 0.5, 1);
head.bias[17] = -1e30; // a class that never carries mass
const gauss = randomHidden(22, 4, D);
gauss[3] = gauss[3]!.map((x) => x * 300); // logits in the thousands
const hidden = gauss.map((row) => Array.from(row, Math.fround));
/** A head whose nucleus of 0.9 holds most of V, all within one grid cell: far past the merged candidates. */
const flat = randomHead(23, V, D, 0.01, 0.01);
/** Logits of std ~1: a nucleus of hundreds of classes spread over many grid cells. */
const spread = randomHead(24, V, D, 0.25, 0.1);

const layouts: Record<string, { ranges: [number, number][]; blockRows?: number }> = {
  one: { ranges: [[0, V]] },
  two: {
    ranges: [
      [0, 400],
      [400, V],
    ],
  },
  threeBlocked: {
    ranges: [
      [0, 337],
      [337, 674],
      [674, V],
    ],
    blockRows: 128,
  },
  fiveUneven: {
    ranges: [
      [0, 100],
      [100, 356],
      [356, 600],
      [600, 1000],
      [1000, V],
    ],
  },
};

const running: InProcessShards[] = [];
const gateways: Record<string, TestGateway> = {};
let flatGateway: TestGateway;
let spreadGateway: TestGateway;

async function cluster(h: Head, ranges: [number, number][], blockRows?: number): Promise<TestGateway> {
  const shards = await startInProcessShards(h, ranges, blockRows ? { blockRows } : {});
  running.push(shards);
  const gateway = await startGateway(shards.addresses);
  await waitReady(gateway);
  return gateway;
}

async function waitReady(gateway: TestGateway): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await gateway.get("/readyz")).status === 200) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("gateway never ready");
}

beforeAll(async () => {
  for (const [name, layout] of Object.entries(layouts)) gateways[name] = await cluster(head, layout.ranges, layout.blockRows);
  flatGateway = await cluster(flat, [
    [0, 300],
    [300, 700],
    [700, V],
  ]);
  spreadGateway = await cluster(spread, [
    [0, 500],
    [500, V],
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([...Object.values(gateways), flatGateway, spreadGateway].map((g) => g?.stop()));
  await Promise.all(running.map((s) => s.stop()));
});

const modes: { name: string; temperature: number; restrict: Restrict }[] = [
  { name: "unrestricted", temperature: 1, restrict: {} },
  { name: "T = 0.5", temperature: 0.5, restrict: {} },
  { name: "T = 2", temperature: 2, restrict: {} },
  { name: "top-k 5", temperature: 1, restrict: { topK: 5 } },
  { name: "top-p 0.9", temperature: 1, restrict: { topP: 0.9 } },
  { name: "min-p 0.05", temperature: 1, restrict: { minP: 0.05 } },
  { name: "top-k 50, top-p 0.8, min-p 0.01", temperature: 0.7, restrict: { topK: 50, topP: 0.8, minP: 0.01 } },
];

/** The reference draws of each row, and each row's allowed set. */
function expected(h: Head, rows: number[][], temperature: number, restrict: Restrict, seeds: number[]) {
  return rows.map((row, r) => {
    const ref = referenceRow(referenceLogits(h, row, temperature), 0);
    const allowed = allowedClasses(ref, restrict);
    return { ref, allowed, ids: Array.from({ length: N }, (_, j) => referenceDraw(ref, allowed, seeds[r]!, j)) };
  });
}

function expectDraws(results: any[], want: ReturnType<typeof expected>, seeds: number[]): void {
  results.forEach((row, r) => {
    expect(row.seed, `row ${r} seed`).toBe(seeds[r]);
    expect(
      row.samples.map((s: any) => s.id),
      `row ${r}`,
    ).toEqual(want[r]!.ids);
    const allowed = new Set(want[r]!.allowed);
    for (const s of row.samples) {
      expect(allowed.has(s.id)).toBe(true);
      const z = want[r]!.ref.logits[s.id]!;
      const tol = 1e-4 + 1e-6 * Math.abs(z);
      expect(Math.abs(s.logit - z)).toBeLessThanOrEqual(tol);
      expect(Math.abs(s.logprob - want[r]!.ref.logProbs[s.id]!)).toBeLessThanOrEqual(2 * tol);
    }
  });
}

const seedsFrom = (seed: number, rows: number) => Array.from({ length: rows }, (_, r) => seed + r);

describe.each(Object.keys(layouts))("layout %s", (layout) => {
  it.each(modes)("draws equal the float64 rule over the whole vocabulary: $name", async ({ temperature, restrict }) => {
    const res = await gateways[layout]!.post("/v1/softmax", { hidden, topK: 3, temperature, sample: { n: N, seed: SEED, ...restrict } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDraws(res.body.results, expected(head, hidden, temperature, restrict, seedsFrom(SEED, hidden.length)), seedsFrom(SEED, hidden.length));
  });
});

describe("the same seed, the same draws", () => {
  const restrict = { topK: 50, topP: 0.95 };
  it("a row sent alone with its seed, rows batched with other queries, and gRPC all agree", async () => {
    const gateway = gateways.two!;
    const whole = (await gateway.post("/v1/softmax", { hidden, sample: { n: N, seed: SEED, ...restrict } })).body.results;
    const alone = await Promise.all(hidden.map((row, r) => gateway.post("/v1/softmax", { hidden: [row], sample: { n: N, seed: whole[r].seed, ...restrict } })));
    alone.forEach((res, r) => expect(res.body.results[0].samples).toEqual(whole[r].samples));
    // Concurrent queries of other shapes coalesce with these rows at the gateway and the shard.
    const mixed = await Promise.all([
      gateway.post("/v1/softmax", { hidden: [hidden[2], hidden[0]], temperature: 0.5, sample: { n: 3, seed: [5, 6] } }),
      gateway.post("/v1/softmax", { hidden, sample: { n: N, seed: [...seedsFrom(SEED, hidden.length)], ...restrict } }),
      gateway.post("/v1/softmax", { hidden: [hidden[1]], topK: 7, targets: [[3, 4]] }),
    ]);
    expect(mixed[1]!.body.results.map((r: any) => r.samples)).toEqual(whole.map((r: any) => r.samples));
    const client = new ShardmaxClient(gateway.grpcAddress);
    try {
      const grpc = await client.query({ hidden, sample: { n: N, seed: SEED, ...restrict } });
      expect(grpc.results.map((r) => r.samples)).toEqual(whole.map((r: any) => r.samples));
      expect(grpc.results.map((r) => r.seed)).toEqual(seedsFrom(SEED, hidden.length));
      const perRow = await client.query({ hidden, sample: { n: N, seed: seedsFrom(SEED, hidden.length), ...restrict } });
      expect(perRow.results.map((r) => r.samples)).toEqual(whole.map((r: any) => r.samples));
    } finally {
      client.close();
    }
  });

  it("without a seed the gateway picks one per row, and that seed reproduces the row", async () => {
    const gateway = gateways.fiveUneven!;
    const first = (await gateway.post("/v1/softmax", { hidden, sample: { n: N } })).body.results;
    expect(first.every((r: any) => Number.isSafeInteger(r.seed) && r.seed >= 0)).toBe(true);
    const again = await gateway.post("/v1/softmax", { hidden: [hidden[1]], sample: { n: N, seed: first[1].seed } });
    expect(again.body.results[0].samples).toEqual(first[1].samples);
  });

  it("seeds near 2^53 − 1 wrap to 0 without leaving the integers", async () => {
    const res = await gateways.one!.post("/v1/softmax", { hidden: hidden.slice(0, 3), sample: { n: 2, seed: MAX_SEED - 1 } });
    expect(res.body.results.map((r: any) => r.seed)).toEqual([MAX_SEED - 1, MAX_SEED, 0]);
  });
});

describe("top-p past the merged candidates", () => {
  it("is exact on a flat head, in exactly one more round", async () => {
    const before = flatGateway.stats.attempts;
    const restrict = { topP: 0.9 };
    const rows = hidden.slice(0, 3);
    const res = await flatGateway.post("/v1/softmax", { hidden: rows, sample: { n: N, seed: 99, ...restrict } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectDraws(res.body.results, expected(flat, rows, 1, restrict, seedsFrom(99, rows.length)), seedsFrom(99, rows.length));
    expect(flatGateway.stats.attempts - before).toBe(2 * 3); // two rounds × three ranges
  });

  it("is decided by the mass grid in one round for most draws, and exact for all", async () => {
    const rows = randomHidden(25, 24, D).map((row) => Array.from(row, Math.fround));
    const before = spreadGateway.stats.attempts;
    for (const [r, row] of rows.entries()) {
      const res = await spreadGateway.post("/v1/softmax", { hidden: [row], sample: { n: 1, seed: 500 + r, topP: 0.9 } });
      const ref = referenceRow(referenceLogits(spread, row, 1), 0);
      const allowed = allowedClasses(ref, { topP: 0.9 });
      expect(allowed.length).toBeGreaterThan(16);
      expect(res.body.results[0].samples[0].id).toBe(referenceDraw(ref, allowed, 500 + r, 0));
    }
    const rounds = (spreadGateway.stats.attempts - before) / 2;
    expect(rounds).toBeGreaterThanOrEqual(rows.length);
    expect(rounds).toBeLessThan(1.5 * rows.length);
  });

  it("takes one round when the nucleus lies inside the candidates", async () => {
    const gateway = gateways.threeBlocked!;
    const before = gateway.stats.attempts;
    const res = await gateway.post("/v1/softmax", { hidden: [hidden[3]], sample: { n: N, seed: 3, topP: 0.9 } });
    expect(res.status).toBe(200);
    expect(gateway.stats.attempts - before).toBe(3);
  });
});

describe("bad sampling input is refused, naming the field", () => {
  const cases: [string, object, string][] = [
    ["n = 0", { n: 0 }, "sample.n"],
    ["n over --max-draws", { n: 65 }, "sample.n"],
    ["n not an integer", { n: 1.5 }, "sample.n"],
    ["n missing", { seed: 1 }, "sample.n"],
    ["topP 0", { n: 1, topP: 0 }, "sample.topP"],
    ["topP over 1", { n: 1, topP: 1.5 }, "sample.topP"],
    ["minP 1", { n: 1, minP: 1 }, "sample.minP"],
    ["minP negative", { n: 1, minP: -0.1 }, "sample.minP"],
    ["topK 0", { n: 1, topK: 0 }, "sample.topK"],
    ["topK over V", { n: 1, topK: 5000 }, "sample.topK"],
    ["a negative seed", { n: 1, seed: -1 }, "sample.seed"],
    ["a seed of 2^53", { n: 1, seed: 2 ** 53 }, "sample.seed"],
    ["a seed array of the wrong length", { n: 1, seed: [1, 2] }, "sample.seed"],
    ["a seed in the array out of range", { n: 1, seed: [1, 2, -3, 4] }, "sample.seed[2]"],
    ["an unknown field", { n: 1, temperature: 2 }, 'sample."temperature"'],
  ];
  it.each(cases)("REST: %s", async (_, sample, field) => {
    const res = await gateways.two!.post("/v1/softmax", { hidden, sample });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("INVALID_ARGUMENT");
    expect(res.body.error.message).toContain(field);
  });

  it.each(cases.filter(([name]) => !["n not an integer", "n missing", "an unknown field", "a seed of 2^53"].includes(name)))(
    "gRPC: %s",
    async (_, sample, field) => {
      const client = new ShardmaxClient(gateways.two!.grpcAddress);
      try {
        await expect(client.query({ hidden, sample: sample as never })).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringContaining(field),
        });
      } finally {
        client.close();
      }
    },
  );
});
