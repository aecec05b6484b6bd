/**
 * Hedged Partials (--hedge-after): with scripted replicas on a manual clock,
 * when the second attempt starts, that the first answer wins and the other is
 * cancelled, and when there is no hedge (off, cold, one replica); then on real
 * in-process shards (onnxruntime, gRPC streams) with one replica stalled as a
 * SIGSTOPped process would be: every query is answered by the other replica,
 * exactly (float64 reference), the hedges are counted and the losers cancelled.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FanOut, type ReplicaPool } from "../../../services/gateway/fanout.js";
import { LatencyQuantile, parseHedgeAfter } from "../../../services/gateway/latency-quantile.js";
import type { PartialCall, ShardClient } from "../../../services/gateway/shard-client.js";
import { ShardSet } from "../../../services/gateway/shard-set.js";
import { buildTopology } from "../../../services/gateway/topology.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/log.js";
import { type BatchPartial, partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";
import { ClassRange } from "../../../shared/ranges.js";
import { startInProcessShards } from "../../helpers/in-process-shards.js";
import { ManualClock } from "../../helpers/manual-clock.js";
import { randomHead } from "../../helpers/reference-softmax.js";
import { type CallSpec, expectShardAnswer, randomCall } from "../../helpers/shard-calls.js";

const V = 8;
const call = { rows: 1, dim: 2, hidden: new Float32Array(2), topK: 0, options: defaultOptions(), fingerprint: "f" };
const routed = [{ counts: new Uint32Array(1), ids: new Uint32Array(0) }];
const topology = (addresses: string[]) => {
  const t = buildTopology(
    addresses.map((address) => ({
      address,
      healthy: true,
      error: null,
      info: { rangeStart: 0, rangeEnd: V, vocabSize: V, dim: 2, fingerprint: "f", dtype: "F32", hasBias: false, source: "", maxRows: 8 },
    })),
  );
  if (!t.ready) throw new Error(t.reason);
  return t;
};
const partialOf = (id: number): BatchPartial => partialFrom({ rows: 1, k: 0, max: Float64Array.of(id), sumExp: Float64Array.of(1) });

/** Replicas answering after `latencyMs` of manual time (Infinity: never, until cancelled); each answer's max is its replica's number. */
function scripted(clock: ManualClock, latencyMs: Record<string, number>) {
  const calls: string[] = [];
  const cancelled: string[] = [];
  const pool: ReplicaPool = {
    client: (address) =>
      ({
        partial: (_: PartialCall, __: Date, signal?: AbortSignal) =>
          new Promise<BatchPartial>((resolve, reject) => {
            calls.push(address);
            const ms = latencyMs[address]!;
            const timer = Number.isFinite(ms) ? clock.setTimeout(() => resolve(partialOf(Object.keys(latencyMs).indexOf(address))), ms) : null;
            signal?.addEventListener("abort", () => {
              if (timer !== null) clock.clearTimeout(timer);
              cancelled.push(address);
              reject(new ShardmaxError("CANCELLED", "cancelled"));
            });
          }),
      }) as unknown as ShardClient,
    markFailed: () => {},
  };
  return { pool, calls, cancelled };
}

async function warmUp(fanOut: FanOut, clock: ManualClock, addresses: string[], queries: number) {
  for (let i = 0; i < queries; i++) {
    const answered = fanOut.partials(topology(addresses), call, routed, new Date(Date.now() + 60_000));
    await clock.advance(2);
    await answered;
  }
}

describe("hedged Partials, scripted replicas", () => {
  it("sends a second attempt after the range's latency quantile; the first answer wins and the other is cancelled", async () => {
    const clock = new ManualClock();
    const latency = { a: 2, b: 2 };
    const { pool, calls, cancelled } = scripted(clock, latency);
    const fanOut = new FanOut(pool, { hedgeAfter: 0.95, clock, now: () => clock.now() });
    await warmUp(fanOut, clock, ["a", "b"], 30);
    expect(fanOut.stats.hedges).toBe(0); // every answer came within the quantile
    latency.a = Infinity; // a stops answering (SIGSTOP)
    calls.length = 0;
    let answer: BatchPartial[] | null = null;
    const asked = fanOut.partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 60_000)).then((p) => (answer = p));
    await clock.advance(1);
    expect(calls).toEqual(["a"]);
    await clock.advance(1); // 2 ms: the quantile; the hedge goes to b
    expect(calls).toEqual(["a", "b"]);
    expect(answer).toBeNull();
    await clock.advance(2);
    await asked;
    expect(answer![0]!.max[0]).toBe(1); // b's answer
    expect(cancelled).toEqual(["a"]);
    expect(fanOut.stats).toMatchObject({ hedges: 1, hedgeWins: 1, retries: 0, unanswered: 0 });
  });

  it("when the first attempt answers before the hedge does, the hedge is the one cancelled", async () => {
    const clock = new ManualClock();
    const latency = { a: 2, b: 2 };
    const { pool, calls, cancelled } = scripted(clock, latency);
    const fanOut = new FanOut(pool, { hedgeAfter: 0.5, clock, now: () => clock.now() });
    await warmUp(fanOut, clock, ["a", "b"], 30);
    latency.a = 3;
    latency.b = 10;
    calls.length = 0;
    const asked = fanOut.partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 60_000));
    await clock.advance(3);
    expect((await asked)[0]!.max[0]).toBe(0);
    expect(calls).toEqual(["a", "b"]);
    expect(cancelled).toEqual(["b"]);
    expect(fanOut.stats).toMatchObject({ hedges: 1, hedgeWins: 0 });
  });

  it("does not hedge when off, while cold, or with one replica", async () => {
    for (const [hedgeAfter, warm, addresses] of [
      [null, 30, ["a", "b"]],
      [0.95, 10, ["a", "b"]],
      [0.95, 30, ["a"]],
    ] as const) {
      const clock = new ManualClock();
      const latency = { a: 2, b: 2 };
      const { pool, calls } = scripted(clock, latency);
      const fanOut = new FanOut(pool, { hedgeAfter, clock, now: () => clock.now() });
      // Warm-up on a only, so that the held query below goes to a first.
      await warmUp(fanOut, clock, ["a"], warm);
      latency.a = Infinity;
      calls.length = 0;
      void fanOut.partials(topology([...addresses]), call, routed, new Date(Date.now() + 60_000)).catch(() => {});
      await clock.advance(50);
      expect(calls).toEqual(["a"]);
      expect(fanOut.stats.hedges).toBe(0);
    }
  });
});

describe("parseHedgeAfter and LatencyQuantile", () => {
  it("parses pNN and off, and refuses anything else", () => {
    expect(parseHedgeAfter("p95")).toBe(0.95);
    expect(parseHedgeAfter("p99.9")).toBeCloseTo(0.999, 12);
    expect(parseHedgeAfter("off")).toBeNull();
    for (const bad of ["95", "p0", "p100", "p-5", "P95", "", "p95ms"]) expect(() => parseHedgeAfter(bad)).toThrow(RangeError);
  });

  it("estimates the quantile of each range's recent answers, none before 20", () => {
    const q = new LatencyQuantile(0.9);
    for (let i = 1; i <= 19; i++) q.record("r", i);
    expect(q.ms("r")).toBeNull();
    q.record("r", 20);
    expect(q.ms("r")).toBe(19); // the 18th of 20 sorted (index floor(0.9 · 20) = 18)
    expect(q.ms("other")).toBeNull();
  });
});

describe("hedged Partials on real shards, one replica stalled", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const clean of cleanups.splice(0)) await clean();
  });

  it("answers every query from the other replica, exactly, counting hedges and cancelling the stalled attempts", async () => {
    const head = randomHead(77, 157, 12);
    const range = ClassRange.of(0, 157);
    let stalled = false;
    const stalledRuns: AbortSignal[] = [];
    // Replica 0 stops answering once `stalled` is set: its calls wait until cancelled, as on a SIGSTOPped process.
    const shards = await startInProcessShards(
      head,
      [
        [0, 157],
        [0, 157],
      ],
      {
        wrapRun: (index, run, signal) => {
          if (index !== 0 || !stalled) return run();
          stalledRuns.push(signal);
          return new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ShardmaxError("CANCELLED", "gone"))));
        },
      },
    );
    cleanups.push(() => shards.stop());
    const set = new ShardSet({ resolve: async () => shards.addresses, refreshMs: 60_000, infoDeadlineMs: 5000, maxMessageBytes: 1 << 24, log: silentLogger });
    await set.start();
    cleanups.push(async () => set.close());
    const topology = set.topology;
    if (!topology.ready) throw new Error(topology.reason);
    const fanOut = new FanOut(set, { hedgeAfter: 0.95 });
    const ask = (spec: CallSpec) => {
      const dim = head.dim;
      const hidden = new Float32Array(spec.hidden.length * dim);
      spec.hidden.forEach((row, i) => hidden.set(row, i * dim));
      const options = { ...defaultOptions(), temperatures: new Float64Array(spec.hidden.length).fill(spec.temperature) };
      const targets = [{ counts: Uint32Array.from(spec.targets.map((t) => t.length)), ids: Uint32Array.from(spec.targets.flat()) }];
      return fanOut.partials(
        topology,
        { rows: spec.hidden.length, dim, hidden, topK: spec.topK, options, fingerprint: "sha256:test-head" },
        targets,
        new Date(Date.now() + 60_000),
      );
    };
    for (let i = 0; i < 40; i++) await ask(randomCall(i, head, range, 3, 5));
    expect(fanOut.stats.hedges).toBeLessThan(40);
    const before = { ...fanOut.stats };
    stalled = true;
    const specs = Array.from({ length: 12 }, (_, i) => randomCall(1000 + i, head, range, 3, 5));
    for (const spec of specs) expectShardAnswer((await ask(spec))[0]!, head, range, spec);
    // Round-robin still sends about half of them to the stalled replica first; each of those was hedged and won by the other.
    expect(stalledRuns.length).toBeGreaterThan(0);
    expect(fanOut.stats.hedgeWins - before.hedgeWins).toBeGreaterThan(0);
    expect(fanOut.stats.hedgeWins - before.hedgeWins).toBeLessThanOrEqual(stalledRuns.length);
    // The cancel travels on the stream: the stalled shard sees each of its calls dropped.
    for (let i = 0; i < 500 && !stalledRuns.every((signal) => signal.aborted); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stalledRuns.every((signal) => signal.aborted)).toBe(true);
    expect(fanOut.stats.unanswered).toBe(0);
    expect(fanOut.stats.retries).toBe(before.retries);
  });
});
