/**
 * The full distribution as a stream: a client that reads slowly holds the
 * shards back instead of filling the gateway; a client that goes away frees
 * the gateway; a shard killed mid-stream fails the response (a cut
 * connection, an error status) instead of ending it early as if complete.
 * Real shard processes, each range several chunks per row.
 */
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ShardmaxClient, type ShardmaxError } from "../../sdk/index.js";
import { MAX_HELD_PER_RANGE } from "../../services/gateway/range-stream.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { randomHead, randomHidden, referenceSoftmax } from "../helpers/reference-softmax.js";

const V = 40_000; // 20 000 classes per range: two chunks of Shard.Logits per row and range
const D = 4;
const ROWS = 128; // 20 MB as octet-stream: far more than socket buffers and the gateway's bound
const head = randomHead(5, V, D, 1, 1);
const hidden = randomHidden(9, ROWS, D).map((row) => Array.from(row, Math.fround));

let file: string;
const started: ShardProcess[] = [];

async function pair(): Promise<{ shards: ShardProcess[]; gateway: TestGateway }> {
  const shards = await Promise.all(
    ["0:20000", "20000:40000"].map((r) => startShard(["--weights", file, "--listen", "127.0.0.1:0", "--threads", "1", "--range", r])),
  );
  started.push(...shards);
  return { shards, gateway: await startGateway(shards.map((s) => s.address)) };
}

let cluster: { shards: ShardProcess[]; gateway: TestGateway };

beforeAll(async () => {
  file = await writeHead(join(await tempDir(), "head.safetensors"), head);
  cluster = await pair();
});

afterAll(async () => {
  await cluster.gateway.stop();
  await Promise.all(started.map((s) => s.kill("SIGTERM")));
});

function request(gateway: TestGateway, rows: number[][], signal?: AbortSignal): Promise<Response> {
  return fetch(`${gateway.url}/v1/distribution`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/octet-stream" },
    body: JSON.stringify({ hidden: rows }),
    ...(signal ? { signal } : {}),
  });
}

it("a client that reads slowly makes the gateway hold at most the bound, and still gets every row exactly", async () => {
  const res = await request(cluster.gateway, hidden);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  // Not reading for a while: the gateway must stop pulling from the shards, not buffer the 20 MB for us.
  await new Promise((r) => setTimeout(r, 1500));
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const bytes = Buffer.concat(parts);
  expect(bytes.length).toBe(ROWS * V * 4);
  const stats = cluster.gateway.distributionStats;
  expect(stats.maxHeldPerRange).toBeGreaterThan(0);
  expect(stats.maxHeldPerRange).toBeLessThanOrEqual(MAX_HELD_PER_RANGE);
  expect(stats.maxPendingWrites).toBeLessThanOrEqual(2);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  for (const r of [0, 77, ROWS - 1]) {
    const ref = referenceSoftmax(head, [hidden[r]!], 0)[0]!;
    let worst = 0;
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(all[r * V + i]! - ref.logProbs[i]!));
    expect(worst).toBeLessThanOrEqual(1e-4);
  }
});

it("a client that goes away mid-stream leaves the gateway serving (its rows released, its shard streams cancelled)", async () => {
  const abort = new AbortController();
  const res = await request(cluster.gateway, hidden, abort.signal);
  await res.body!.getReader().read();
  abort.abort();
  const again = await request(cluster.gateway, hidden.slice(0, 2));
  expect(again.status).toBe(200);
  expect((await again.arrayBuffer()).byteLength).toBe(2 * V * 4);
});

it("a shard killed mid-stream cuts the octet-stream short of its Content-Length instead of ending it as complete", async () => {
  const { shards, gateway } = await pair();
  try {
    const res = await request(gateway, hidden);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = (await reader.read()).value!.length;
    await shards[1]!.kill("SIGKILL");
    const outcome = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "ended";
        received += value.length;
      }
    })().catch(() => "failed");
    expect(outcome).toBe("failed");
    expect(received).toBeLessThan(ROWS * V * 4);
  } finally {
    await gateway.stop();
  }
});

it("a shard killed mid-stream fails the gRPC stream with an error status", async () => {
  const { shards, gateway } = await pair();
  const client = new ShardmaxClient(gateway.grpcAddress);
  try {
    let chunks = 0;
    const error = await (async () => {
      for await (const _ of client.distribution({ hidden })) {
        if (chunks++ === 0) await shards[0]!.kill("SIGKILL");
      }
      return null;
    })().catch((e: unknown) => e as ShardmaxError);
    expect(error).not.toBeNull();
    expect(["UNAVAILABLE", "INTERNAL", "CANCELLED"]).toContain(error!.code);
    expect(chunks).toBeLessThan(ROWS * 4);
  } finally {
    client.close();
    await gateway.stop();
  }
});
