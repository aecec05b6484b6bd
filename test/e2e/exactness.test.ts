/**
 * End to end: real shard processes over a safetensors file this test writes,
 * a real gateway, REST and gRPC (SDK) answers checked against a float64
 * softmax computed here, for 1, 3 and 4 (uneven) shards.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { gemmTolerance, type ReferenceRow, randomHead, randomHidden, referenceSoftmax } from "../helpers/reference-softmax.js";

const V = 1009; // prime: no shard count divides it
const D = 32;
const K = 10;
const head = randomHead(7, V, D, 1, 1);
// Two identical classes on either side of the 3-shard boundary at 337: a tie the merge must order by id.
head.weight.copyWithin(337 * D, 336 * D, 337 * D);
head.bias[337] = head.bias[336]!;
head.bias[17] = -1e30; // a class that must never carry mass

const gauss = randomHidden(11, 5, D);
gauss[3] = gauss[3]!.map((x) => x * 300); // logits in the thousands: naive exp overflows
// A row aimed at the tied pair, so the tie is inside the top-k.
gauss[4] = Float64Array.from({ length: D }, (_, j) => 4 * head.weight[336 * D + j]!);
const hidden = gauss.map((row) => Array.from(row, Math.fround));

const layouts: Record<string, string[][]> = {
  one: [["--shard", "0/1"]],
  three: [0, 1, 2].map((i) => ["--shard", `${i}/3`]),
  unevenFour: ["0:100", "100:600", "600:1000", "1000:1009"].map((r) => ["--range", r]),
};

let dir: string;
let file: string;
const shards: ShardProcess[] = [];
const gateways: Record<string, TestGateway> = {};

beforeAll(async () => {
  dir = await tempDir();
  file = await writeHead(join(dir, "head.safetensors"), head);
  for (const [name, layout] of Object.entries(layouts)) {
    const started = await Promise.all(layout.map((args) => startShard(["--weights", file, "--listen", "127.0.0.1:0", "--threads", "1", ...args])));
    shards.push(...started);
    gateways[name] = await startGateway(started.map((s) => s.address));
  }
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
});

const tolerance = (ref: ReferenceRow) => gemmTolerance(ref, D);

function expectExact(results: any[], temperature: number, targets: number[][]): void {
  const refs = referenceSoftmax(head, hidden, K, temperature);
  results.forEach((row, r) => {
    const ref = refs[r]!;
    const tol = tolerance(ref);
    expect(Math.abs(row.logZ - ref.logZ)).toBeLessThanOrEqual(tol);
    expect(row.top.map((t: any) => t.id)).toEqual(ref.topIds);
    for (const t of row.top) {
      expect(Math.abs(t.logprob - ref.logProbs[t.id]!)).toBeLessThanOrEqual(tol);
      expect(Math.abs(t.prob - Math.exp(ref.logProbs[t.id]!))).toBeLessThanOrEqual(tol);
    }
    expect(row.targets.map((t: any) => t.id)).toEqual(targets[r]);
    for (const t of row.targets) {
      if (t.id === 17) expect(t.logprob).toBeLessThan(-1e29);
      else expect(Math.abs(t.logprob - ref.logProbs[t.id]!)).toBeLessThanOrEqual(tol);
    }
  });
}

const targets = hidden.map((_, r) => [0, 17, 336, 337, V - 1, (r * 211) % V, 500]);

describe.each(Object.keys(layouts))("layout %s", (name) => {
  it("REST matches the float64 softmax", async () => {
    const { status, body } = await gateways[name]!.post("/v1/softmax", { hidden, topK: K, targets });
    expect(status).toBe(200);
    expect(body.model).toMatchObject({ vocabSize: V, dim: D });
    expectExact(body.results, 1, targets);
  });

  it("REST with temperature 0.5 matches", async () => {
    const { status, body } = await gateways[name]!.post("/v1/softmax", { hidden, topK: K, targets, temperature: 0.5 });
    expect(status).toBe(200);
    expectExact(body.results, 0.5, targets);
  });

  it("the SDK over gRPC gives the same answer as REST", async () => {
    const client = new ShardmaxClient(gateways[name]!.grpcAddress);
    try {
      const viaSdk = await client.query({ hidden: Float32Array.from(hidden.flat()), dim: D, topK: K, targets });
      expectExact(viaSdk.results, 1, targets);
      const viaRest = (await gateways[name]!.post("/v1/softmax", { hidden, topK: K, targets })).body;
      expect(viaSdk).toEqual(viaRest);
    } finally {
      client.close();
    }
  });
});

it("ties across a shard boundary come out smaller id first", async () => {
  const { body } = await gateways.three!.post("/v1/softmax", { hidden: [hidden[4]], topK: 2 });
  expect(body.results[0].top.map((t: any) => t.id)).toEqual([336, 337]);
  expect(body.results[0].top[0].logit).toBe(body.results[0].top[1].logit);
});

it("top-k and log-probs do not depend on the shard layout", async () => {
  const answers = await Promise.all(Object.values(gateways).map((g) => g.post("/v1/softmax", { hidden, topK: K, targets })));
  const [first, ...rest] = answers.map((a) => a.body.results);
  for (const other of rest) {
    other.forEach((row: any, r: number) => {
      expect(row.top.map((t: any) => t.id)).toEqual(first[r].top.map((t: any) => t.id));
      row.top.forEach((t: any, j: number) =>
        expect(Math.abs(t.logprob - first[r].top[j].logprob)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(first[r].logZ) / 100)),
      );
    });
  }
});

it("topK 0 and the default of 5", async () => {
  const zero = await gateways.three!.post("/v1/softmax", { hidden: [hidden[0]], topK: 0 });
  expect(zero.body.results[0].top).toEqual([]);
  expect(Number.isFinite(zero.body.results[0].logZ)).toBe(true);
  const byDefault = await gateways.three!.post("/v1/softmax", { hidden: [hidden[0]] });
  expect(byDefault.body.results[0].top).toHaveLength(5);
});

it("GET /v1/model reports the model and the shard map", async () => {
  const { status, body } = await gateways.unevenFour!.get("/v1/model");
  expect(status).toBe(200);
  expect(body.ready).toBe(true);
  expect(body.model).toMatchObject({ vocabSize: V, dim: D });
  expect(body.ranges.map((r: any) => [r.start, r.end])).toEqual([
    [0, 100],
    [100, 600],
    [600, 1000],
    [1000, 1009],
  ]);
  expect(body.ranges.every((r: any) => r.replicas.length === 1 && r.replicas[0].healthy)).toBe(true);
});
