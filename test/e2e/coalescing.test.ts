/**
 * Gateway-side batching with real shard processes: concurrent queries with
 * different rows, top-k, targets and temperatures share Partials (the shards
 * see fewer calls than there were queries) and each query gets exactly its own
 * float64-exact answer; a query that fails inside a shared Partial fails alone.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ShardmaxClient, ShardmaxError } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { mulberry32, randInt, randomHead, randomHidden, referenceSoftmax, within } from "../helpers/reference-softmax.js";

const V = 2003;
const D = 24;
const head = randomHead(41, V, D, 0.5, 1);
let shards: ShardProcess[] = [];
let gateway: TestGateway;
let client: ShardmaxClient;

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), head);
  shards = await Promise.all([0, 1, 2].map((i) => startShard(["--weights", file, "--shard", `${i}/3`, "--listen", "127.0.0.1:0", "--threads", "1"])));
  gateway = await startGateway(shards.map((s) => s.address));
  client = new ShardmaxClient(gateway.grpcAddress);
});

afterAll(async () => {
  client.close();
  await gateway.stop();
  await Promise.all(shards.map((s) => s.kill("SIGKILL")));
});

interface Asked {
  hidden: number[][];
  topK: number;
  targets: number[][];
  temperature: number;
}

function randomQuery(seed: number): Asked {
  const uniform = mulberry32(seed);
  const rows = randInt(uniform, 1, 4);
  const hidden = randomHidden(seed, rows, D).map((r) => Array.from(r, Math.fround));
  return {
    hidden,
    topK: randInt(uniform, 0, 12),
    targets: hidden.map(() => Array.from({ length: randInt(uniform, 0, 4) }, () => randInt(uniform, 0, V))),
    temperature: uniform() < 0.5 ? 1 : 0.75,
  };
}

function expectExact(asked: Asked, results: { logZ: number; top: { id: number; logprob: number }[]; targets: { id: number; logprob: number }[] }[]): void {
  const refs = referenceSoftmax(head, asked.hidden, asked.topK, asked.temperature);
  results.forEach((row, r) => {
    const ref = refs[r]!;
    expect(within(row.logZ, ref.logZ, 1e-4)).toBe(true);
    expect(row.top.map((t) => t.id)).toEqual(ref.topIds);
    for (const t of row.top) expect(within(t.logprob, ref.logProbs[t.id]!, 1e-4)).toBe(true);
    expect(row.targets.map((t) => t.id)).toEqual(asked.targets[r]);
    for (const t of row.targets) expect(within(t.logprob, ref.logProbs[t.id]!, 1e-4)).toBe(true);
  });
}

it("concurrent queries share Partials and each gets its own exact answer; a failing one fails alone", async () => {
  const asked = Array.from({ length: 48 }, (_, i) => randomQuery(100 + i));
  // Logits divided by a tiny temperature overflow float32 in the shards: that query must fail, alone.
  const overflowing = { ...randomQuery(999), temperature: 1e-40 };
  const all = [...asked.slice(0, 24), overflowing, ...asked.slice(24)];
  const settled = await Promise.allSettled(
    all.map((q, i) =>
      i % 2 === 0
        ? client.query({ hidden: q.hidden, topK: q.topK, targets: q.targets, temperature: q.temperature })
        : gateway
            .post("/v1/softmax", q)
            .then(({ status, body }) => (status === 200 ? body : Promise.reject(new ShardmaxError(body.error.code, body.error.message)))),
    ),
  );
  const failure = settled[24]!;
  expect(failure.status).toBe("rejected");
  expect(((failure as PromiseRejectedResult).reason as ShardmaxError).code).toBe("INVALID_ARGUMENT");
  settled.forEach((s, i) => {
    if (i === 24) return;
    expect(s.status).toBe("fulfilled");
    expectExact(all[i]!, (s as PromiseFulfilledResult<{ results: never[] }>).value.results);
  });
  // Every shard saw fewer calls than there were queries: the gateway coalesced them.
  for (const shard of shards) {
    await shard.kill("SIGTERM");
    const line = shard
      .stderr()
      .split("\n")
      .find((l) => l.includes(" batches "));
    const calls = Number(/calls=(\d+)/.exec(line ?? "")?.[1]);
    expect(calls).toBeLessThan(all.length);
  }
});
