/**
 * One range's logits stream at the gateway, against real shard gRPC servers
 * whose loaded shards are stand-ins (so a failure lands exactly where the
 * test wants it): a replica that fails before its first chunk is marked
 * failed and the next one streams; a failure after the first chunk is the
 * stream's failure, with no failover.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ReplicaPool } from "../../../services/gateway/fanout.js";
import { RangeStream } from "../../../services/gateway/range-stream.js";
import { ReplicaPicker } from "../../../services/gateway/replica-picker.js";
import { ShardClient } from "../../../services/gateway/shard-client.js";
import { groupRows } from "../../../services/shard/logits-stream.js";
import { type LoadedShard, ShardServer } from "../../../services/shard/server.js";
import type { LogitsBatch } from "../../../services/shard/session.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/log.js";
import { ClassRange } from "../../../shared/ranges.js";

const RANGE = ClassRange.of(0, 70_000); // two chunks per row; groups of groupRows(70 000) rows
const D = 2;
const servers: ShardServer[] = [];
const clients = new Map<string, ShardClient>();

/** z of row r, class i is r + i / 1e5: every chunk says where it came from. */
function logitsOf(first: number) {
  return async (batch: LogitsBatch) =>
    Float32Array.from({ length: batch.rows * RANGE.size }, (_, j) => first + Math.floor(j / RANGE.size) + (j % RANGE.size) / 1e5);
}

async function shard(logits: (batch: LogitsBatch, call: number) => Promise<Float32Array>): Promise<string> {
  const server = new ShardServer({ maxRows: 4096, maxTopK: 1, maxMessageBytes: 64 << 20, log: silentLogger });
  const address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  let calls = 0;
  const loaded: LoadedShard = {
    range: RANGE,
    vocabSize: RANGE.size,
    dim: D,
    fingerprint: "f",
    dtype: "F32",
    hasBias: false,
    source: "",
    run: () => Promise.reject(new Error("unused")),
    logits: (batch) => logits(batch, calls++),
  };
  server.setReady(loaded);
  servers.push(server);
  clients.set(address, new ShardClient(address, 64 << 20));
  return address;
}

let broken: string;
let healthy: string;
let failsLater: string;

beforeAll(async () => {
  broken = await shard(async () => {
    throw new ShardmaxError("INTERNAL", "onnxruntime failed");
  });
  healthy = await shard(logitsOf(0));
  // Answers its first group of rows, fails on the second.
  failsLater = await shard(async (batch, call) => {
    if (call > 0) throw new ShardmaxError("UNAVAILABLE", "worker died");
    return logitsOf(0)(batch);
  });
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(servers.map((s) => s.shutdown(100)));
});

function pool(): ReplicaPool & { failed: string[] } {
  const failed: string[] = [];
  return { failed, client: (address) => clients.get(address)!, markFailed: (address) => failed.push(address) };
}

const call = (rows: number) => ({ rows, dim: D, hidden: new Float32Array(rows * D), temperature: 1, fingerprint: "f" });
const deadline = () => new Date(Date.now() + 10_000);

it("fails over to the next replica when one fails before its first chunk", async () => {
  const replicas = pool();
  const stream = new RangeStream(RANGE, [broken, healthy], replicas, new ReplicaPicker(), true);
  await stream.open(call(2), deadline());
  expect(replicas.failed).toEqual([broken]);
  const seen: [number, number][] = [];
  for (let chunk = await stream.next(); chunk !== null; chunk = await stream.next()) seen.push([chunk.row, chunk.start]);
  expect(seen).toEqual([
    [0, 0],
    [0, 16384],
    [0, 32768],
    [0, 49152],
    [0, 65536],
    [1, 0],
    [1, 16384],
    [1, 32768],
    [1, 49152],
    [1, 65536],
  ]);
});

it("names every replica's failure when none can stream", async () => {
  const stream = new RangeStream(RANGE, [broken], pool(), new ReplicaPicker(), true);
  const error = ShardmaxError.from(await stream.open(call(1), deadline()).catch((e: unknown) => e));
  expect(error.code).toBe("UNAVAILABLE");
  expect(error.message).toContain(`${broken}: INTERNAL onnxruntime failed`);
});

it("a failure after the first chunk fails the stream, with no failover", async () => {
  const replicas = pool();
  const rows = groupRows(RANGE.size, 1 << 20) + 1;
  const stream = new RangeStream(RANGE, [failsLater, healthy], replicas, new ReplicaPicker(), true);
  await stream.open(call(rows), deadline());
  let chunks = 0;
  const error = await (async () => {
    while ((await stream.next()) !== null) chunks++;
    return null;
  })().catch((e: unknown) => ShardmaxError.from(e));
  expect(error?.code).toBe("UNAVAILABLE");
  expect(chunks).toBeGreaterThan(0);
  expect(chunks).toBeLessThan(rows * 5);
  expect(replicas.failed).toEqual([]);
});
