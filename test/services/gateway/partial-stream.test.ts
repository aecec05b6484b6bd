/**
 * Shard.PartialStream end to end on real gRPC servers (port 0): many Partials
 * in flight on one stream answered exactly; a Partial's own deadline and
 * cancellation (the shard's work is dropped, the stream keeps serving); flow
 * control (the shard holds at most STREAM_MAX_PENDING of one stream); and a
 * stream that breaks mid-flight, after which every pending Partial fails over
 * to another replica or fails its query, never answered from a subset of ranges.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { FanOut } from "../../../services/gateway/fanout.js";
import { type PartialCall, ShardClient } from "../../../services/gateway/shard-client.js";
import { ShardSet } from "../../../services/gateway/shard-set.js";
import { MAX_BUDGET_MS, MAX_METADATA_CHARS, MAX_METADATA_ENTRIES } from "../../../services/shard/partial-stream.js";
import { ShardServer, STREAM_MAX_PENDING } from "../../../services/shard/server.js";
import type { ShardCall } from "../../../services/shard/shard-call.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { encodePartialColumns } from "../../../shared/grpc/partial-codec.js";
import { shardmaxProto } from "../../../shared/grpc/proto.js";
import { silentLogger } from "../../../shared/log.js";
import { partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";
import { ClassRange } from "../../../shared/ranges.js";
import { startInProcessShards } from "../../helpers/in-process-shards.js";
import { randomHead } from "../../helpers/reference-softmax.js";
import { type CallSpec, expectShardAnswer, randomCall } from "../../helpers/shard-calls.js";

const FINGERPRINT = "sha256:test-head";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function partialCall(spec: CallSpec): PartialCall {
  const dim = spec.hidden[0]!.length;
  const hidden = new Float32Array(spec.hidden.length * dim);
  spec.hidden.forEach((row, i) => hidden.set(row, i * dim));
  return {
    rows: spec.hidden.length,
    dim,
    hidden,
    topK: spec.topK,
    options: { ...defaultOptions(), temperatures: new Float64Array(spec.hidden.length).fill(spec.temperature) },
    targetCounts: Uint32Array.from(spec.targets.map((t) => t.length)),
    targetIds: Uint32Array.from(spec.targets.flat()),
    fingerprint: FINGERPRINT,
  };
}

const tiny = (): PartialCall => ({
  rows: 1,
  dim: 2,
  hidden: new Float32Array(2),
  topK: 0,
  options: defaultOptions(),
  targetCounts: new Uint32Array(1),
  targetIds: new Uint32Array(0),
  fingerprint: FINGERPRINT,
});

/** A real ShardServer whose runs are held until released: a slow or SIGSTOPped shard, in process. */
async function heldShard(range: [number, number], vocabSize: number) {
  const held: { call: ShardCall; signal: AbortSignal; release: () => void }[] = [];
  const server = new ShardServer({ maxRows: 64, maxTopK: 10, maxMessageBytes: 1 << 20, log: silentLogger });
  const port = await server.listen("127.0.0.1:0");
  server.setReady({
    range: ClassRange.of(...range),
    vocabSize,
    dim: 2,
    fingerprint: FINGERPRINT,
    dtype: "F32",
    hasBias: false,
    source: "held",
    run: (call, signal) =>
      new Promise((resolve) => {
        const rows = call.rows;
        held.push({ call, signal, release: () => resolve(partialFrom({ rows, k: 0, max: new Float64Array(rows), sumExp: new Float64Array(rows).fill(1) })) });
      }),
    logits: () => Promise.reject(new Error("unused")),
  });
  return { address: `127.0.0.1:${port}`, server, held, release: () => held.splice(0).forEach((h) => h.release()) };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe("Shard.PartialStream", () => {
  it("answers many concurrent Partials on one stream, each exactly (float64 reference), on uneven ranges", async () => {
    const head = randomHead(15, 203, 16);
    const ranges: [number, number][] = [
      [0, 71],
      [71, 203],
    ];
    const shards = await startInProcessShards(head, ranges, { maxRows: 12 });
    cleanups.push(() => shards.stop());
    for (const [r, address] of shards.addresses.entries()) {
      const range = ClassRange.of(...ranges[r]!);
      const client = new ShardClient(address, 1 << 24);
      cleanups.push(() => client.close());
      const specs = Array.from({ length: 40 }, (_, i) => randomCall(100 * r + i, head, range, 12, 9));
      const answers = await Promise.all(specs.map((spec) => client.partial(partialCall(spec), new Date(Date.now() + 30_000))));
      answers.forEach((answer, i) => expectShardAnswer(answer, head, range, specs[i]!));
      expect(client.streamsOpened).toBe(1);
    }
  });

  it("fails one Partial at its deadline and drops its work in the shard; a stream silent that long is replaced, failing its other Partials over", async () => {
    const shard = await heldShard([0, 8], 8);
    cleanups.push(() => shard.server.shutdown(0));
    const client = new ShardClient(shard.address, 1 << 20);
    cleanups.push(() => client.close());
    const late = client.partial(tiny(), new Date(Date.now() + 150)).then(
      () => null,
      (e: unknown) => ShardmaxError.from(e),
    );
    await until(() => shard.held.length === 1);
    const other = client.partial(tiny(), new Date(Date.now() + 30_000)).then(
      () => null,
      (e: unknown) => ShardmaxError.from(e),
    );
    await until(() => shard.held.length === 2);
    expect((await late)?.code).toBe("DEADLINE_EXCEEDED");
    // The stream answered nothing in 150 ms: it is replaced, and the other Partial fails (retryable) instead of waiting 30 s.
    expect((await other)?.code).toBe("UNAVAILABLE");
    await until(() => shard.held.every((h) => h.signal.aborted));
    shard.held.splice(0);
    const next = client.partial(tiny(), new Date(Date.now() + 30_000));
    await until(() => shard.held.length === 1);
    shard.release();
    expect((await next).rows).toBe(1);
    expect(client.streamsOpened).toBe(2);
  });

  it("keeps a stream that answers: one Partial past its deadline fails alone", async () => {
    const shard = await heldShard([0, 8], 8);
    cleanups.push(() => shard.server.shutdown(0));
    const client = new ShardClient(shard.address, 1 << 20);
    cleanups.push(() => client.close());
    const late = client.partial(tiny(), new Date(Date.now() + 300)).then(
      () => null,
      (e: unknown) => ShardmaxError.from(e),
    );
    await until(() => shard.held.length === 1);
    const quick = client.partial(tiny(), new Date(Date.now() + 30_000));
    await until(() => shard.held.length === 2);
    shard.held[1]!.release(); // an answer arrives while the first still waits
    expect((await quick).rows).toBe(1);
    expect((await late)?.code).toBe("DEADLINE_EXCEEDED");
    await until(() => shard.held[0]!.signal.aborted);
    shard.held.splice(0);
    const next = client.partial(tiny(), new Date(Date.now() + 30_000));
    await until(() => shard.held.length === 1);
    shard.release();
    expect((await next).rows).toBe(1);
    expect(client.streamsOpened).toBe(1);
  });

  it("cancels one Partial (its signal) without touching the others on the stream", async () => {
    const shard = await heldShard([0, 8], 8);
    cleanups.push(() => shard.server.shutdown(0));
    const client = new ShardClient(shard.address, 1 << 20);
    cleanups.push(() => client.close());
    const loser = new AbortController();
    const cancelled = client.partial(tiny(), new Date(Date.now() + 30_000), loser.signal).then(
      () => null,
      (e: unknown) => ShardmaxError.from(e),
    );
    const kept = client.partial(tiny(), new Date(Date.now() + 30_000));
    await until(() => shard.held.length === 2);
    loser.abort();
    expect((await cancelled)?.code).toBe("CANCELLED");
    await until(() => shard.held[0]!.signal.aborted);
    expect(shard.held[1]!.signal.aborted).toBe(false);
    shard.release();
    expect((await kept).rows).toBe(1);
  });

  it("flow control: the shard holds at most STREAM_MAX_PENDING Partials of a stream; the rest wait and are answered after", async () => {
    const shard = await heldShard([0, 8], 8);
    cleanups.push(() => shard.server.shutdown(0));
    const client = new ShardClient(shard.address, 1 << 20);
    cleanups.push(() => client.close());
    const total = STREAM_MAX_PENDING + 20;
    const all = Promise.all(Array.from({ length: total }, () => client.partial(tiny(), new Date(Date.now() + 30_000))));
    await until(() => shard.held.length === STREAM_MAX_PENDING);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(shard.held.length).toBe(STREAM_MAX_PENDING);
    let answered = 0;
    while (answered < total) {
      await until(() => shard.held.length > 0);
      answered += shard.held.length;
      shard.release();
    }
    expect((await all).length).toBe(total);
  });

  it("a stream that breaks mid-flight: every pending Partial fails over to the other replica, none is lost or answered twice", async () => {
    const a = await heldShard([0, 8], 8);
    const b = await heldShard([0, 8], 8);
    cleanups.push(() => b.server.shutdown(0));
    const set = new ShardSet({
      resolve: async () => [a.address, b.address],
      refreshMs: 60_000,
      infoDeadlineMs: 2000,
      maxMessageBytes: 1 << 20,
      log: silentLogger,
    });
    await set.start();
    cleanups.push(() => set.close());
    const topology = set.topology;
    if (!topology.ready) throw new Error(topology.reason);
    const fanOut = new FanOut(set);
    const routed = [{ counts: new Uint32Array(1), ids: new Uint32Array(0) }];
    const queries = Array.from({ length: 10 }, () => fanOut.partials(topology, tiny(), routed, new Date(Date.now() + 30_000)));
    // Fewest-outstanding picking spreads them over both replicas; b answers nothing until a is gone.
    await until(() => a.held.length + b.held.length === 10);
    expect(a.held.length).toBeGreaterThan(0);
    const onA = a.held.length;
    await a.server.shutdown(0); // cuts a's stream with its Partials in flight
    await until(() => b.held.length === 10);
    b.release();
    const answers = await Promise.all(queries);
    expect(answers.every((parts) => parts.length === 1 && parts[0]!.rows === 1)).toBe(true);
    expect(fanOut.stats.retries).toBe(onA);
  });

  it("a stream that breaks mid-flight with no other replica fails every pending query naming the range", async () => {
    const lower = await heldShard([0, 4], 8);
    const upper = await heldShard([4, 8], 8);
    cleanups.push(() => upper.server.shutdown(0));
    const set = new ShardSet({
      resolve: async () => [lower.address, upper.address],
      refreshMs: 60_000,
      infoDeadlineMs: 2000,
      maxMessageBytes: 1 << 20,
      log: silentLogger,
    });
    await set.start();
    cleanups.push(() => set.close());
    const topology = set.topology;
    if (!topology.ready) throw new Error(topology.reason);
    const fanOut = new FanOut(set);
    const routed = [0, 1].map(() => ({ counts: new Uint32Array(1), ids: new Uint32Array(0) }));
    const queries = Array.from({ length: 5 }, () =>
      fanOut.partials(topology, tiny(), routed, new Date(Date.now() + 30_000)).catch((e: unknown) => ShardmaxError.from(e)),
    );
    await until(() => lower.held.length === 5 && upper.held.length === 5);
    upper.release(); // the upper range has answered every query; the lower one never will
    await lower.server.shutdown(0);
    for (const outcome of await Promise.all(queries)) {
      expect(outcome).toBeInstanceOf(ShardmaxError);
      expect((outcome as ShardmaxError).code).toBe("UNAVAILABLE");
      expect((outcome as ShardmaxError).message).toContain("[0, 4)");
    }
  });

  it("sends unary Partials to a shard that does not serve PartialStream (an older build), the first one included", async () => {
    const server = new grpc.Server();
    let unaryCalls = 0;
    // Only Info and Partial: grpc-js answers PartialStream with UNIMPLEMENTED.
    server.addService(shardmaxProto().Shard.service, {
      partial: (call: grpc.ServerUnaryCall<{ rows: number }, object>, callback: grpc.sendUnaryData<object>) => {
        unaryCalls++;
        const rows = call.request.rows;
        const answer = partialFrom({ rows, k: 0, max: new Float64Array(rows), sumExp: new Float64Array(rows).fill(1) });
        callback(null, { rows, k: 0, ...encodePartialColumns(answer), fingerprint: FINGERPRINT });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    cleanups.push(() => void server.forceShutdown());
    const client = new ShardClient(`127.0.0.1:${port}`, 1 << 20);
    cleanups.push(() => client.close());
    const answers = await Promise.all([0, 1, 2].map(() => client.partial(tiny(), new Date(Date.now() + 30_000))));
    expect(answers.map((a) => a.rows)).toEqual([1, 1, 1]);
    expect((await client.partial(tiny(), new Date(Date.now() + 30_000))).rows).toBe(1);
    expect(unaryCalls).toBe(4);
    expect(client.streamsOpened).toBe(1);
  });
});

describe("Shard.PartialStream's own fields", () => {
  it("refuses a budget or metadata over their limits, naming the field, before the Partial is queued", async () => {
    const shard = await heldShard([0, 4], 4);
    cleanups.push(() => shard.server.shutdown(100));
    const raw = new (shardmaxProto().Shard)(shard.address, grpc.credentials.createInsecure());
    cleanups.push(() => raw.close());
    const stream = raw.partialStream();
    const answers: { id: number; errorCode: string; errorMessage: string }[] = [];
    stream.on("data", (answer) => answers.push(answer));
    stream.on("error", () => {}); // the cancel below ends the stream with CANCELLED
    const partial = { rows: 1, dim: 2, hidden: Buffer.alloc(8), topK: 0, targetCounts: [0], fingerprint: FINGERPRINT };
    const metadata = Object.fromEntries(Array.from({ length: MAX_METADATA_ENTRIES + 1 }, (_, i) => [`k${i}`, "v"]));
    stream.write({ id: 1, partial, budgetMs: MAX_BUDGET_MS + 1 });
    stream.write({ id: 2, partial, budgetMs: 1000, metadata });
    stream.write({ id: 3, partial, budgetMs: 1000, metadata: { traceparent: "x".repeat(MAX_METADATA_CHARS) } });
    await until(() => answers.length === 3);
    stream.cancel();
    expect(answers.map((a) => [a.id, a.errorCode])).toEqual([
      [1, "INVALID_ARGUMENT"],
      [2, "INVALID_ARGUMENT"],
      [3, "INVALID_ARGUMENT"],
    ]);
    expect(answers[0]!.errorMessage).toBe(`budget_ms: ${MAX_BUDGET_MS + 1} is over the limit of ${MAX_BUDGET_MS}`);
    expect(answers[1]!.errorMessage).toMatch(/^metadata: 9 entries, the limit is 8/);
    expect(answers[2]!.errorMessage).toMatch(/^metadata: an entry of 523 characters, the limit is 512/);
    expect(shard.held).toHaveLength(0);
  });
});
