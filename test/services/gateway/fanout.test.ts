/**
 * The fan-out's replica choice and retries, with the replica pool and the
 * clock injected (the same paths run against real shard processes in
 * test/k8s/failover.test.ts): least-outstanding with round-robin ties, an even
 * share of the time left per untried replica, which failures move on to
 * another replica and which end the query, and what a range with no answer
 * becomes.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { FanOut, type ReplicaPool } from "../../../services/gateway/fanout.js";
import { ReplicaPicker } from "../../../services/gateway/replica-picker.js";
import type { PartialCall, ShardClient } from "../../../services/gateway/shard-client.js";
import { buildTopology } from "../../../services/gateway/topology.js";
import { type ErrorCode, ShardmaxError } from "../../../shared/errors.js";
import type { BatchPartial } from "../../../shared/math/partial.js";
import { partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";

const V = 8;
const partial: BatchPartial = partialFrom({ rows: 1, k: 0, max: new Float64Array(1), sumExp: Float64Array.of(1) });
const call = { rows: 1, dim: 2, hidden: new Float32Array(2), topK: 0, options: defaultOptions(), fingerprint: "f" };
const routed = [{ counts: new Uint32Array(1), ids: new Uint32Array(0) }];

/** One range [0, V) served by `addresses`. */
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

type Behaviour = (deadline: Date) => Promise<BatchPartial>;
const answer: Behaviour = async () => partial;
const fail =
  (code: ErrorCode): Behaviour =>
  async () => {
    throw new ShardmaxError(code, `${code} from the shard`);
  };

/** A pool whose replicas behave as scripted, recording every call and every replica marked failed. */
function pool(behaviours: Record<string, Behaviour>) {
  const calls: { address: string; deadline: number }[] = [];
  const failed: string[] = [];
  const replicas: ReplicaPool = {
    client: (address) =>
      ({
        partial: (_: PartialCall, deadline: Date) => {
          calls.push({ address, deadline: deadline.getTime() });
          return behaviours[address]!(deadline);
        },
      }) as unknown as ShardClient,
    markFailed: (address) => void failed.push(address),
  };
  return { replicas, calls, failed };
}

describe("replica choice", () => {
  it("round-robins between idle replicas", async () => {
    const { replicas, calls } = pool({ a: answer, b: answer });
    const fanOut = new FanOut(replicas);
    for (let i = 0; i < 4; i++) await fanOut.partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 1000));
    expect(calls.map((c) => c.address)).toEqual(["a", "b", "a", "b"]);
  });

  it("prefers the replica with fewer calls outstanding", () => {
    const picker = new ReplicaPicker();
    picker.begin("a");
    expect(picker.order("r", ["a", "b"])).toEqual(["b", "a"]);
    expect(picker.order("r", ["a", "b"])).toEqual(["b", "a"]);
    picker.end("a");
    expect(picker.order("r", ["a", "b", "c"])).toEqual(["c", "a", "b"]); // third turn of the rotation
  });
});

describe("retries", () => {
  it("a replica that fails is marked and the call goes to the next, within the query", async () => {
    for (const code of ["UNAVAILABLE", "INTERNAL", "CANCELLED", "MODEL_MISMATCH", "NOT_READY"] as const) {
      const { replicas, calls, failed } = pool({ a: fail(code), b: answer });
      const fanOut = new FanOut(replicas);
      await expect(fanOut.partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 1000))).resolves.toEqual([partial]);
      expect(calls.map((c) => c.address)).toEqual(["a", "b"]);
      expect(failed).toEqual(["a"]);
      expect(fanOut.stats).toMatchObject({ attempts: 2, retries: 1, unanswered: 0 });
    }
  });

  it("each attempt gets an even share of the time left; the last one all of it", async () => {
    let now = 1000;
    const hang: Behaviour = async (deadline) => {
      now = deadline.getTime(); // the clock runs to the attempt's deadline
      throw Object.assign(new Error("deadline"), { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
    };
    const { replicas, calls, failed } = pool({ a: hang, b: hang, c: hang });
    const fanOut = new FanOut(replicas, { now: () => now });
    await expect(fanOut.partials(topology(["a", "b", "c"]), call, routed, new Date(1000 + 900))).rejects.toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(calls.map((c) => c.deadline - 1000)).toEqual([300, 600, 900]);
    expect(fanOut.stats).toEqual({ attempts: 3, retries: 2, unanswered: 1, failedAttemptMs: 900, reruns: 0, hedges: 0, hedgeWins: 0 });
    // Slower than its share while others remained: ejected until its next good Info; the last one was given the whole deadline.
    expect(failed).toEqual(["a", "b"]);
  });

  it("the query's own fault is not retried", async () => {
    const { replicas, calls } = pool({ a: fail("INVALID_ARGUMENT"), b: answer });
    await expect(new FanOut(replicas).partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 1000))).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(calls).toHaveLength(1);
  });

  it("no replica answering is UNAVAILABLE naming the range; every replica at capacity is RESOURCE_EXHAUSTED", async () => {
    const down = pool({ a: fail("UNAVAILABLE"), b: fail("UNAVAILABLE") });
    const fanOut = new FanOut(down.replicas);
    await expect(fanOut.partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 1000))).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/^range \[0, 8\) has no shard that can answer \(.*a: .*b: /),
    });
    expect(fanOut.stats.unanswered).toBe(1);
    const busy = pool({ a: fail("RESOURCE_EXHAUSTED"), b: fail("RESOURCE_EXHAUSTED") });
    await expect(new FanOut(busy.replicas).partials(topology(["a", "b"]), call, routed, new Date(Date.now() + 1000))).rejects.toMatchObject({
      code: "RESOURCE_EXHAUSTED",
    });
    expect(busy.failed).toEqual([]); // load, not failure
  });
});

describe("metrics and range times", () => {
  it("counts every attempt's time and each retry by range, and tells the query each answered range's time", async () => {
    const { replicas } = pool({ a: fail("UNAVAILABLE"), b: answer });
    const seen: { calls: string[]; retries: string[]; times: string[] } = { calls: [], retries: [], times: [] };
    const metrics = {
      shardCall: (range: string, seconds: number) => void seen.calls.push(`${range} ${seconds >= 0}`),
      shardRetry: (range: string) => void seen.retries.push(range),
    };
    const fanOut = new FanOut(replicas, { metrics });
    const timed = { ...call, onRangeTime: (range: string, ms: number) => void seen.times.push(`${range} ${ms >= 0}`) };
    await fanOut.partials(topology(["a", "b"]), timed, routed, new Date(Date.now() + 1000));
    expect(seen).toEqual({ calls: [`[0, ${V}) true`, `[0, ${V}) true`], retries: [`[0, ${V})`], times: [`[0, ${V}) true`] });
  });
});
