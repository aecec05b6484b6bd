/**
 * Batching in a real shard process (compiled CLI, inference in its worker
 * thread), called over real gRPC: a flood of concurrent Partials with mixed
 * rows, top-k, temperatures and targets coalesces (the shard's batch counters,
 * logged on stop) and each call gets its own float64-exact answer; bad calls
 * in the flood fail alone; the queue bound answers RESOURCE_EXHAUSTED; and the
 * health service keeps answering SERVING while the flood is in flight.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardClient } from "../../services/gateway/shard-client.js";
import { ShardmaxError } from "../../shared/errors.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { randomHead } from "../helpers/reference-softmax.js";
import { type CallSpec, expectShardAnswer, randomCall } from "../helpers/shard-calls.js";

const V = 3000;
const D = 32;
const head = randomHead(33, V, D, 0.5, 1);
const range = ClassRange.of(1000, 3000);
const started: ShardProcess[] = [];
const clients: ShardClient[] = [];
let file: string;

beforeAll(async () => {
  file = await writeHead(join(await tempDir(), "head.safetensors"), head);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all(started.map((s) => s.kill("SIGKILL")));
});

async function shard(args: string[]): Promise<{ process: ShardProcess; client: ShardClient; fingerprint: string }> {
  const process = await startShard(["--listen", "127.0.0.1:0", "--threads", "1", ...args]);
  started.push(process);
  const client = new ShardClient(process.address, 64 << 20);
  clients.push(client);
  return { process, client, fingerprint: (await client.info(5000)).fingerprint };
}

function partial(client: ShardClient, fingerprint: string, spec: CallSpec, dim = D) {
  const hidden = new Float32Array(spec.hidden.length * dim);
  spec.hidden.forEach((row, i) => hidden.set(row.subarray(0, dim), i * dim));
  return client.partial(
    {
      rows: spec.hidden.length,
      dim,
      hidden,
      topK: spec.topK,
      options: { ...defaultOptions(), temperatures: new Float64Array(spec.hidden.length).fill(spec.temperature) },
      targetCounts: Uint32Array.from(spec.targets.map((t) => t.length)),
      targetIds: Uint32Array.from(spec.targets.flat()),
      fingerprint,
    },
    new Date(Date.now() + 30_000),
  );
}

/** Stops the shard with SIGTERM and reads the batch counters it logs on the way out. */
async function batchCounters(shard: ShardProcess): Promise<{ runs: number; calls: number }> {
  await shard.kill("SIGTERM");
  const line = shard
    .stderr()
    .split("\n")
    .find((l) => l.includes(" batches "));
  if (!line) throw new Error(`no batch counters in the shard's log:\n${shard.stderr()}`);
  return { runs: Number(/runs=(\d+)/.exec(line)![1]), calls: Number(/calls=(\d+)/.exec(line)![1]) };
}

it("a flood of mixed calls coalesces; each gets its own exact answer; bad calls fail alone", async () => {
  const s = await shard(["--weights", file, "--range", `${range.start}:${range.end}`, "--max-batch-rows", "32"]);
  const specs = Array.from({ length: 60 }, (_, i) => randomCall(500 + i, head, range, 3, 12));
  const wrongDim = randomCall(1, head, range, 2, 5);
  const foreignTarget = { ...randomCall(2, head, range, 1, 5), targets: [[range.start - 1]] };
  const settled = await Promise.allSettled([
    ...specs.slice(0, 30).map((spec) => partial(s.client, s.fingerprint, spec)),
    partial(s.client, s.fingerprint, wrongDim, D - 1),
    partial(s.client, s.fingerprint, foreignTarget),
    ...specs.slice(30).map((spec) => partial(s.client, s.fingerprint, spec)),
  ]);
  const [dimFailure, targetFailure] = [settled[30]!, settled[31]!] as PromiseRejectedResult[];
  expect(ShardmaxError.from(dimFailure.reason).code).toBe("INVALID_ARGUMENT");
  expect(ShardmaxError.from(dimFailure.reason).message).toContain("dim");
  expect(ShardmaxError.from(targetFailure.reason).code).toBe("INVALID_ARGUMENT");
  expect(ShardmaxError.from(targetFailure.reason).message).toContain("target_ids");
  const answers = settled.filter((_, i) => i !== 30 && i !== 31);
  answers.forEach((a, i) => {
    expect(a.status).toBe("fulfilled");
    expectShardAnswer((a as PromiseFulfilledResult<Awaited<ReturnType<ShardClient["partial"]>>>).value, head, range, specs[i]!);
  });
  const { runs, calls } = await batchCounters(s.process);
  expect(calls).toBe(60);
  expect(runs).toBeLessThan(calls);
});

it("the queue bound answers RESOURCE_EXHAUSTED, and the shard serves again afterwards", async () => {
  const s = await shard(["--weights", file, "--range", `${range.start}:${range.end}`, "--max-rows", "2", "--max-batch-rows", "2", "--max-queue-rows", "2"]);
  const specs = Array.from({ length: 40 }, (_, i) => randomCall(700 + i, head, range, 1, 3));
  const settled = await Promise.allSettled(specs.map((spec) => partial(s.client, s.fingerprint, spec)));
  const refused = settled.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) expect(ShardmaxError.from(r.reason).code).toBe("RESOURCE_EXHAUSTED");
  settled.forEach((r, i) => r.status === "fulfilled" && expectShardAnswer(r.value, head, range, specs[i]!));
  const after = randomCall(800, head, range, 1, 3);
  expectShardAnswer(await partial(s.client, s.fingerprint, after), head, range, after);
});

describe("health under full load", () => {
  it("keeps answering SERVING while a flood of Partials is in flight, and every Partial is answered", async () => {
    // A heavier head, so the flood keeps onnxruntime busy for a while.
    const heavy = await shard(["--weights", "builtin:65536x256", "--shard", "0/1", "--max-batch-rows", "16"]);
    const Health = grpc.makeGenericClientConstructor(healthService, "Health");
    const health = new Health(heavy.process.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      check(request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: { status: string }) => void): void;
    };
    const check = () =>
      new Promise<string>((resolve, reject) =>
        health.check({ service: "shardmax.v1.Shard" }, { deadline: new Date(Date.now() + 10_000) }, (err, res) => (err ? reject(err) : resolve(res!.status))),
      );
    const rows = Array.from({ length: 4 }, (_, r) => Float32Array.from({ length: 256 }, (_, j) => Math.sin(r + j)));
    let inFlight = 0;
    let answeredDuringFlood = 0;
    const flood = Array.from({ length: 200 }, () => {
      inFlight++;
      return partial(heavy.client, heavy.fingerprint, { hidden: rows, topK: 5, temperature: 1, targets: rows.map(() => []) }, 256).finally(() => inFlight--);
    });
    const statuses: string[] = [];
    while (inFlight > 0) {
      statuses.push(await check());
      if (inFlight > 0) answeredDuringFlood++;
    }
    const answers = await Promise.all(flood);
    health.close();
    expect(statuses.every((s) => s === "SERVING")).toBe(true);
    expect(answeredDuringFlood).toBeGreaterThanOrEqual(3);
    // Every call sent the same rows: every answer must be identical to the first.
    for (const a of answers) {
      expect(Array.from(a.topIds)).toEqual(Array.from(answers[0]!.topIds));
      expect(Array.from(a.max)).toEqual(Array.from(answers[0]!.max));
    }
    const { runs, calls } = await batchCounters(heavy.process);
    expect(calls).toBe(200);
    expect(runs).toBeLessThan(calls);
  });
});
