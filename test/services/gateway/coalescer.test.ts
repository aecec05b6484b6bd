/**
 * The gateway's coalescer with closed-loop callers: after a batch is
 * answered, the next waits (up to lingerUs) for the callers just answered, so
 * they do not split into cohorts; with lingerUs 0 it never waits. The shards
 * behind it are a function here (the same path runs against real shard
 * processes in test/e2e/coalescing.test.ts), and time is a manual clock: a
 * shard's run and a caller's think time are timers on it, so "it did not wait
 * out the linger" is a statement about that clock, not about this machine.
 */
import { describe, expect, it } from "vitest";
import { COALESCER_DEFAULTS, CoalescingFanOut } from "../../../services/gateway/coalescer.js";
import type { PartialCall } from "../../../services/gateway/shard-client.js";
import { buildTopology } from "../../../services/gateway/topology.js";
import type { FlatTargets } from "../../../shared/math/combine-partials.js";
import type { BatchPartial } from "../../../shared/math/partial.js";
import { partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";
import { ManualClock } from "../../helpers/manual-clock.js";

const V = 8;
const topology = (() => {
  const t = buildTopology([
    {
      address: "a",
      healthy: true,
      error: null,
      info: { rangeStart: 0, rangeEnd: V, vocabSize: V, dim: 2, fingerprint: "f", dtype: "F32", hasBias: false, source: "", maxRows: 64 },
    },
  ]);
  if (!t.ready) throw new Error(t.reason);
  return t;
})();
const call = { rows: 1, dim: 2, hidden: new Float32Array(2), topK: 0, options: defaultOptions(), fingerprint: "f" };
const routed = (): FlatTargets[] => [{ counts: new Uint32Array(1), ids: new Uint32Array(0) }];
const clock = new ManualClock();
const sleep = (ms: number) => new Promise((r) => clock.setTimeout(() => r(undefined), ms));

/** Moves the manual clock 1 ms at a time until `work` is done; the manual milliseconds it took. */
async function drive(work: Promise<unknown>): Promise<number> {
  const started = clock.now();
  let done = false;
  const settled = work.finally(() => (done = true));
  for (let step = 0; step < 60_000 && !done; step++) await clock.advance(1);
  await settled;
  return clock.now() - started;
}

/** A shard that takes `runMs` per batch and records each batch's rows; `firstCall` resolves when the first batch reaches it. */
function shard(runMs: number) {
  const batches: number[] = [];
  let reached: () => void = () => {};
  const firstCall = new Promise<void>((resolve) => (reached = resolve));
  return {
    batches,
    firstCall,
    inner: {
      stats: { calls: 0, retries: 0, failures: 0 } as never,
      async partials(_t: unknown, c: Pick<PartialCall, "rows">): Promise<BatchPartial[]> {
        batches.push(c.rows);
        reached();
        await sleep(runMs);
        return [partialFrom({ rows: c.rows, k: 0, max: new Float64Array(c.rows), sumExp: new Float64Array(c.rows).fill(1) })];
      },
    },
  };
}

/**
 * `callers` loops, each sending its next query `thinkMs(i)` after its answer, `rounds` times. The odd
 * callers start once the first batch is out (`outOfStep`), as callers do that connect one after another.
 */
async function closedLoop(
  fanOut: CoalescingFanOut,
  callers: number,
  rounds: number,
  thinkMs: (caller: number) => number,
  outOfStep: Promise<void> = Promise.resolve(),
): Promise<void> {
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      if (i % 2 === 1) await outOfStep;
      for (let r = 0; r < rounds; r++) {
        await fanOut.partials(topology, call, routed(), new Date(Date.now() + 10_000));
        await sleep(thinkMs(i));
      }
    }),
  );
}

describe("coalescing closed-loop callers", () => {
  it("waits for the callers just answered, so every batch after the first carries all of them", async () => {
    const { inner, batches, firstCall } = shard(30);
    const fanOut = new CoalescingFanOut(inner, { ...COALESCER_DEFAULTS, lingerUs: 500_000 }, clock);
    const tookMs = await drive(closedLoop(fanOut, 8, 6, (i) => i, firstCall));
    // It goes as soon as they are back: waiting out 500 ms each time would take seconds (it waits once, at the end).
    expect(tookMs).toBeLessThan(2000);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(48);
    // The even callers start first and go alone; from then on every batch carries all 8 until the evens are done.
    expect(batches.slice(1, -1).length).toBeGreaterThanOrEqual(4);
    expect(batches.slice(1, -1).every((rows) => rows === 8)).toBe(true);
  });

  it("with lingerUs 0 it never waits: callers out of step stay in separate batches", async () => {
    const { inner, batches, firstCall } = shard(30);
    const fanOut = new CoalescingFanOut(inner, { ...COALESCER_DEFAULTS, lingerUs: 0 }, clock);
    await drive(closedLoop(fanOut, 8, 6, (i) => i, firstCall));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(48);
    expect(Math.max(...batches)).toBeLessThan(8);
  });

  it("does not wait when nobody else is waiting: a lone caller is sent at once", async () => {
    const { inner, batches } = shard(5);
    const fanOut = new CoalescingFanOut(inner, { ...COALESCER_DEFAULTS, lingerUs: 10_000_000 }, clock);
    const tookMs = await drive(closedLoop(fanOut, 1, 5, () => 1));
    expect(batches).toEqual([1, 1, 1, 1, 1]);
    expect(tookMs).toBeLessThan(100); // 5 runs of 5 ms and 4 thinks of 1 ms: no linger
  });
});

describe("when waiting cannot help, it does not wait", () => {
  it("queries left out of a batch (another head) go right after it, not after the linger", async () => {
    const { inner, batches } = shard(20);
    const fanOut = new CoalescingFanOut(inner, { ...COALESCER_DEFAULTS, lingerUs: 5_000_000 }, clock);
    const ask = (fingerprint: string) => fanOut.partials(topology, { ...call, fingerprint }, routed(), new Date(Date.now() + 60_000));
    const tookMs = await drive(Promise.all([ask("f"), ask("f"), ask("g"), ask("g")]));
    expect(batches).toEqual([2, 2]);
    expect(tookMs).toBeLessThan(100); // two runs of 20 ms, not 5 s of linger
  });

  it("a full batch that queued during the last one goes at once", async () => {
    const { inner, batches, firstCall } = shard(20);
    const fanOut = new CoalescingFanOut(inner, { ...COALESCER_DEFAULTS, maxBatchRows: 2, lingerUs: 5_000_000 }, clock);
    const ask = () => fanOut.partials(topology, call, routed(), new Date(Date.now() + 60_000));
    const first = [ask(), ask()];
    await clock.turn();
    await firstCall;
    const tookMs = await drive(Promise.all([...first, ask(), ask()]));
    expect(batches).toEqual([2, 2]);
    expect(tookMs).toBeLessThan(100); // two runs of 20 ms, not 5 s of linger
  });
});

describe("deadlines", () => {
  it("each query keeps its own deadline: one past it fails with DEADLINE_EXCEEDED while its batch-mate is answered", async () => {
    const { inner, batches } = shard(100);
    const fanOut = new CoalescingFanOut(inner, COALESCER_DEFAULTS, clock);
    const hasty = fanOut.partials(topology, call, routed(), new Date(Date.now() + 50)).catch((err: unknown) => err);
    const patient = fanOut.partials(topology, call, routed(), new Date(Date.now() + 60_000));
    const tookMs = await drive(hasty);
    expect(await hasty).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(tookMs).toBeLessThan(100); // it failed at its deadline, before the batch came back
    await drive(patient);
    expect((await patient)[0]!.rows).toBe(1);
    expect(batches).toEqual([2]);
  });
});

describe("per-row options", () => {
  it("queries of different temperatures and sampling share one Partial, each row carrying its own options", async () => {
    const seen: PartialCall["options"][] = [];
    const inner = {
      stats: { calls: 0, retries: 0, failures: 0 } as never,
      async partials(_t: unknown, c: PartialCall): Promise<BatchPartial[]> {
        seen.push(c.options);
        return [partialFrom({ rows: c.rows, k: 0, max: new Float64Array(c.rows), sumExp: new Float64Array(c.rows).fill(1) })];
      },
    };
    const fanOut = new CoalescingFanOut(inner, COALESCER_DEFAULTS, clock);
    const hot = { ...call, rows: 2, hidden: new Float32Array(4), options: { ...defaultOptions(), temperatures: Float64Array.of(2, 2) } };
    const sampled = { ...call, options: { ...defaultOptions(), drawCounts: Uint32Array.of(3), seeds: Float64Array.of(9) } };
    const answers = await Promise.all([call, hot, sampled].map((c) => fanOut.partials(topology, c, routed(), new Date(Date.now() + 10_000))));
    expect(seen).toHaveLength(1);
    expect([...seen[0]!.temperatures]).toEqual([1, 2, 2, 1]);
    expect([...seen[0]!.drawCounts]).toEqual([0, 0, 0, 3]);
    expect([...seen[0]!.seeds]).toEqual([0, 0, 0, 9]);
    expect(answers.map((a) => a[0]!.rows)).toEqual([1, 2, 1]);
  });
});
