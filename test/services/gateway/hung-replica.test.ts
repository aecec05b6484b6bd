/**
 * A hung replica delays only the queries it holds (issue 10, finding 6): the
 * coalescer stops counting a batch out longer than stallMs, so the next one
 * goes, and the fan-out sends it to the replica with fewer calls outstanding.
 * The replicas are scripted and the coalescer's time is a manual clock; the
 * same path runs against SIGSTOPped shard processes in the failover drills.
 */
import { describe, expect, it } from "vitest";
import { COALESCER_DEFAULTS, CoalescingFanOut } from "../../../services/gateway/coalescer.js";
import { FanOut, type ReplicaPool } from "../../../services/gateway/fanout.js";
import type { PartialCall, ShardClient } from "../../../services/gateway/shard-client.js";
import { buildTopology } from "../../../services/gateway/topology.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { type BatchPartial, partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";
import { ManualClock } from "../../helpers/manual-clock.js";

const V = 8;
const call = { rows: 1, dim: 2, hidden: new Float32Array(2), topK: 0, options: defaultOptions(), fingerprint: "f" };
const routed = () => [{ counts: new Uint32Array(1), ids: new Uint32Array(0) }];
const info = { rangeStart: 0, rangeEnd: V, vocabSize: V, dim: 2, fingerprint: "f", dtype: "F32", hasBias: false, source: "", maxRows: 8 };
const topology = (() => {
  const t = buildTopology(["a", "b"].map((address) => ({ address, healthy: true, error: null, info })));
  if (!t.ready) throw new Error(t.reason);
  return t;
})();
const partialOf = (rows: number): BatchPartial => partialFrom({ rows, k: 0, max: new Float64Array(rows), sumExp: new Float64Array(rows).fill(1) });

/** Replica "a" hangs until released (a SIGSTOPped process); "b" answers at once. */
function replicas() {
  const held: (() => void)[] = [];
  const calls: string[] = [];
  const pool: ReplicaPool = {
    client: (address) =>
      ({
        partial: (c: PartialCall) => {
          calls.push(address);
          if (address === "b") return Promise.resolve(partialOf(c.rows));
          return new Promise<BatchPartial>((resolve) => held.push(() => resolve(partialOf(c.rows))));
        },
      }) as unknown as ShardClient,
    markFailed: () => {},
  };
  return { pool, calls, release: () => held.splice(0).forEach((go) => go()) };
}

describe("a hung replica", () => {
  it("holds only its own batch: a later query is answered by the other replica while the first still hangs", async () => {
    const { pool, calls, release } = replicas();
    const clock = new ManualClock();
    const fanOut = new CoalescingFanOut(new FanOut(pool), { ...COALESCER_DEFAULTS, stallMs: 20, lingerUs: 0 }, clock);
    const deadline = () => new Date(Date.now() + 60_000);
    let firstDone = false;
    // Round-robin sends the first batch to "a", which hangs.
    const first = fanOut.partials(topology, call, routed(), deadline()).then(() => (firstDone = true));
    await clock.advance(5);
    expect(calls).toEqual(["a"]);
    const pending = fanOut.partials(topology, call, routed(), deadline());
    await clock.advance(14);
    expect(calls).toEqual(["a"]); // not stalled yet: the second query waits
    await clock.advance(1);
    const second = await pending;
    expect(second[0]!.rows).toBe(1);
    expect(calls).toEqual(["a", "b"]);
    expect(firstDone).toBe(false);
    release();
    await first;
  });

  it("with every batch stalled up to maxStalled, later queries wait rather than pile up", async () => {
    const { pool, calls, release } = replicas();
    const onlyA: ReplicaPool = { ...pool, client: () => pool.client("a") };
    const clock = new ManualClock();
    const fanOut = new CoalescingFanOut(new FanOut(onlyA), { ...COALESCER_DEFAULTS, maxBatchRows: 1, stallMs: 5, maxStalled: 2, lingerUs: 0 }, clock);
    const asks = Array.from({ length: 5 }, () => fanOut.partials(topology, call, routed(), new Date(Date.now() + 60_000)));
    await clock.advance(100);
    // One counted batch and two stalled ones are out; the rest wait in the queue.
    expect(calls.length).toBe(3);
    release();
    await clock.advance(50);
    expect(calls.length).toBe(5);
    release();
    await Promise.all(asks);
  });
});

describe("a query whose deadline passed before it reached the shards", () => {
  it("is DEADLINE_EXCEEDED without blaming a range that never had a chance", async () => {
    const { pool } = replicas();
    const err = await new FanOut(pool).partials(topology, call, routed(), new Date(Date.now() - 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShardmaxError);
    expect((err as ShardmaxError).code).toBe("DEADLINE_EXCEEDED");
    expect((err as ShardmaxError).message).not.toMatch(/range/);
  });
});
