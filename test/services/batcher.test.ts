/**
 * The dynamic batcher over a real onnxruntime session (in this process): many
 * concurrent calls with different rows, top-k, temperatures and targets
 * share runs and each gets exactly its own answer (float64 reference); a call
 * larger than a batch spans several runs; a call that fails inside a run
 * fails alone; the queue bound refuses with RESOURCE_EXHAUSTED; a caller that
 * goes away leaves the queue. The queue delay runs on a manual clock (the
 * session's runs take real time, the batcher's waits are the test's to move).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partialBatches } from "../../services/shard/batch-partial.js";
import { autoMaxBatchRows, Batcher, type BatcherOptions } from "../../services/shard/batcher.js";
import { ShardSession } from "../../services/shard/session.js";
import { ShardmaxError } from "../../shared/errors.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { ClassRange } from "../../shared/ranges.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { randomHead } from "../helpers/reference-softmax.js";
import { type CallSpec, expectShardAnswer, randomCall, toCall } from "../helpers/shard-calls.js";

const V = 700;
const D = 24;
const head = randomHead(21, V, D, 0.5, 1);
const range = ClassRange.of(100, 600); // global ids must come back shifted by the range start
let session: ShardSession;
let sessionRuns = 0;

beforeAll(async () => {
  const slice = {
    rows: range.size,
    dim: D,
    weight: head.weight.slice(range.start * D, range.end * D) as Float32Array,
    bias: head.bias.slice(range.start, range.end) as Float32Array,
  };
  session = await ShardSession.create(range, slice, { threads: 1 });
});

afterAll(async () => {
  await session.close();
});

function batcher(options: Partial<BatcherOptions> = {}, clock?: ManualClock): Batcher<BatchPartial> {
  const kind = partialBatches((batch) => {
    sessionRuns++;
    return session.run(batch);
  });
  return new Batcher(kind, { dim: D, maxBatchRows: 16, maxQueueDelayUs: 0, maxQueueRows: 1024, ...options }, clock);
}

const calls = (count: number, seed: number, maxRows = 4, maxTopK = 12): CallSpec[] =>
  Array.from({ length: count }, (_, i) => randomCall(seed + i, head, range, maxRows, maxTopK));

describe("coalescing", () => {
  it("40 concurrent calls share a few runs and each gets its own answer", async () => {
    const b = batcher({ maxBatchRows: 64 });
    const specs = calls(40, 1000);
    const answers = await Promise.all(specs.map((spec) => b.run(toCall(spec))));
    specs.forEach((spec, i) => expectShardAnswer(answers[i]!, head, range, spec));
    const rows = specs.reduce((n, s) => n + s.hidden.length, 0);
    expect(b.stats.calls).toBe(40);
    expect(b.stats.rows).toBe(rows);
    // All arrived in one turn of the event loop: as few runs as the row limit allows.
    expect(b.stats.runs).toBe(Math.ceil(rows / 64));
  });

  it("calls arriving while a run is busy form the next batch", async () => {
    const b = batcher({ maxBatchRows: 64 });
    const first = b.run(toCall(calls(1, 50)[0]!));
    await new Promise((resolve) => setImmediate(resolve)); // the first run has started
    const later = calls(10, 60);
    const answers = await Promise.all([first, ...later.map((spec) => b.run(toCall(spec)))]);
    later.forEach((spec, i) => expectShardAnswer(answers[i + 1]!, head, range, spec));
    expect(b.stats.runs).toBe(2);
  });

  it("a call larger than a batch is cut across runs and answered whole", async () => {
    const b = batcher({ maxBatchRows: 4 });
    const [big, small] = [randomCall(7, head, range, 11, 9), randomCall(8, head, range, 3, 5)];
    big.hidden = big.hidden.concat(calls(1, 9, 11)[0]!.hidden).slice(0, 11);
    big.targets = big.hidden.map((_, r) => [range.start + r, range.end - 1 - r]);
    const before = sessionRuns;
    const [a, c] = await Promise.all([b.run(toCall(big)), b.run(toCall(small))]);
    expectShardAnswer(a, head, range, big);
    expectShardAnswer(c, head, range, small);
    const rows = big.hidden.length + small.hidden.length;
    expect(sessionRuns - before).toBe(Math.ceil(rows / 4));
  });

  it("a call reaching an idle shard runs at once, whatever the queue delay", async () => {
    const clock = new ManualClock();
    const b = batcher({ maxQueueDelayUs: 10_000_000 }, clock);
    const spec = calls(1, 70)[0]!;
    expectShardAnswer(await b.run(toCall(spec)), head, range, spec);
    expect(clock.now()).toBe(0); // the clock never moved: nothing waited for it
  });

  it("after a run, calls that waited through it wait for the callers it answered, then run with them", async () => {
    const clock = new ManualClock();
    const b = batcher({ maxQueueDelayUs: 10_000_000 }, clock);
    const [first, waiting, returning] = calls(3, 75);
    const answered = b.run(toCall(first!));
    await new Promise((resolve) => setImmediate(resolve)); // the first run has started
    let waitingDone = false;
    const queued = b.run(toCall(waiting!)).then((r) => {
      waitingDone = true;
      return r;
    });
    expectShardAnswer(await answered, head, range, first!);
    await clock.advance(9_999);
    expect(waitingDone).toBe(false); // held for the caller just answered…
    expect(b.stats.runs).toBe(1);
    const back = b.run(toCall(returning!)); // …who comes back: both run together
    expectShardAnswer(await queued, head, range, waiting!);
    expectShardAnswer(await back, head, range, returning!);
    expect(b.stats.runs).toBe(2);
  });

  it("that wait is bounded by the queue delay", async () => {
    const clock = new ManualClock();
    const b = batcher({ maxQueueDelayUs: 200_000 }, clock);
    const [first, waiting] = calls(2, 78);
    const answered = b.run(toCall(first!));
    await new Promise((resolve) => setImmediate(resolve));
    const queued = b.run(toCall(waiting!));
    await answered;
    await clock.advance(199);
    expect(b.stats.runs).toBe(1);
    await clock.advance(1);
    expectShardAnswer(await queued, head, range, waiting!);
    expect(b.stats.runs).toBe(2);
  });

  it("a full batch does not wait for the queue delay", async () => {
    const clock = new ManualClock();
    const b = batcher({ maxBatchRows: 4, maxQueueDelayUs: 10_000_000 }, clock);
    const specs = calls(4, 80, 1);
    const answers = await Promise.all(specs.map((spec) => b.run(toCall(spec))));
    specs.forEach((spec, i) => expectShardAnswer(answers[i]!, head, range, spec));
    expect(b.stats.runs).toBe(1);
    expect(clock.now()).toBe(0);
  });
});

describe("isolation and limits", () => {
  it("a call whose logits overflow fails alone; its batch-mates succeed", async () => {
    const b = batcher({ maxBatchRows: 64 });
    const good = calls(6, 90);
    const bad = { ...calls(1, 99)[0]!, temperature: 1e-40 }; // z / T overflows float32
    const settled = await Promise.allSettled([...good.slice(0, 3), bad, ...good.slice(3)].map((spec) => b.run(toCall(spec))));
    const failure = settled[3]!;
    expect(failure.status).toBe("rejected");
    expect((failure as PromiseRejectedResult).reason).toBeInstanceOf(ShardmaxError);
    expect(((failure as PromiseRejectedResult).reason as ShardmaxError).code).toBe("INVALID_ARGUMENT");
    const answers = settled.filter((_, i) => i !== 3);
    answers.forEach((s, i) => {
      expect(s.status).toBe("fulfilled");
      expectShardAnswer((s as PromiseFulfilledResult<BatchPartial>).value, head, range, good[i]!);
    });
    expect(b.stats.isolatedRuns).toBe(7);
  });

  it("refuses calls beyond the queue bound with RESOURCE_EXHAUSTED and serves the rest", async () => {
    const b = batcher({ maxBatchRows: 4, maxQueueRows: 8 });
    const specs = calls(20, 200, 1);
    const settled = await Promise.allSettled(specs.map((spec) => b.run(toCall(spec))));
    const refused = settled.filter((s) => s.status === "rejected");
    expect(refused).toHaveLength(12);
    for (const r of refused) expect(((r as PromiseRejectedResult).reason as ShardmaxError).code).toBe("RESOURCE_EXHAUSTED");
    settled.slice(0, 8).forEach((s, i) => expectShardAnswer((s as PromiseFulfilledResult<BatchPartial>).value, head, range, specs[i]!));
    expect(b.stats.refused).toBe(12);
    // Once the queue has drained, calls are taken again.
    const again = calls(1, 300)[0]!;
    expectShardAnswer(await b.run(toCall(again)), head, range, again);
  });

  it("a call abandoned before it starts leaves the queue with CANCELLED", async () => {
    const b = batcher({ maxQueueDelayUs: 100_000 }, new ManualClock());
    const [stay, leave] = calls(2, 400);
    const gone = new AbortController();
    const kept = b.run(toCall(stay!));
    const dropped = b.run(toCall(leave!), gone.signal);
    gone.abort();
    await expect(dropped).rejects.toMatchObject({ code: "CANCELLED" });
    expectShardAnswer(await kept, head, range, stay!);
    expect(b.stats.rows).toBe(stay!.hidden.length);
  });
});

describe("--max-batch-rows auto", () => {
  it("keeps a [rows, classes] float32 tensor within 128 MiB, between 8 and 128 rows", () => {
    expect(autoMaxBatchRows(1 << 20)).toBe(32);
    expect(autoMaxBatchRows(1 << 19)).toBe(64);
    expect(autoMaxBatchRows(65536)).toBe(128);
    expect(autoMaxBatchRows(1 << 24)).toBe(8);
    expect(autoMaxBatchRows(1)).toBe(128);
  });
});
