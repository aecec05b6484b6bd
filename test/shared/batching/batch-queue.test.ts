/**
 * The batching policy alone, on a manual clock (no sleeps: "20 ms later" is
 * `clock.advance(20)`): one test per rule of shared/batching/batch-queue.ts.
 * The work is a recorder: each batch is listed as its pieces ("a", or
 * "a[0,4)" for part of an item) and answered when the test says so, each
 * piece's answer being its own label, so every answer shows which rows it got.
 */
import { describe, expect, it } from "vitest";
import { BatchQueue, type BatchQueueOptions, type BatchWork, type Piece } from "../../../shared/batching/batch-queue.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { ManualClock } from "../../helpers/manual-clock.js";

interface Item {
  id: string;
  rows: number;
  /** Items share a batch only with the same tag. */
  tag?: string;
  /** A batch holding it fails unless it runs alone, and then it fails too. */
  bad?: boolean;
}

const BASE: BatchQueueOptions = {
  maxBatchRows: 64,
  maxQueueRows: 1024,
  lingerUs: 0,
  maxInFlight: 1,
  stallMs: Infinity,
  maxStalled: 0,
  cut: false,
  isolation: "in-turn",
  name: "test queue",
};

const label = ({ item, firstRow, rows }: Piece<Item>) => (firstRow === 0 && rows === item.rows ? item.id : `${item.id}[${firstRow},${firstRow + rows})`);

function harness(options: Partial<BatchQueueOptions> = {}) {
  const clock = new ManualClock();
  const batches: string[][] = [];
  const out: { pieces: readonly Piece<Item>[]; resolve(answers: string[]): void; reject(err: unknown): void }[] = [];
  const work: BatchWork<Item, string> = {
    rows: (item) => item.rows,
    run: (pieces) => {
      batches.push(pieces.map(label));
      return new Promise((resolve, reject) => out.push({ pieces, resolve, reject }));
    },
    join: (parts) => parts.join(" + "),
    compatible: (first, next) => first.tag === next.tag,
  };
  const queue = new BatchQueue(work, { ...BASE, ...options }, clock);
  /** Answers the oldest batch still out (or fails it when it holds a bad item with others, or is a bad item alone). */
  const answer = async () => {
    const batch = out.shift()!;
    if (batch.pieces.some((p) => p.item.bad)) batch.reject(new ShardmaxError("INVALID_ARGUMENT", "a bad row"));
    else batch.resolve(batch.pieces.map(label));
    await clock.turn();
  };
  /** Answers the newest batch still out. */
  const answerNewest = async () => {
    const batch = out.pop()!;
    batch.resolve(batch.pieces.map(label));
    await clock.turn();
  };
  const item = (id: string, rows = 1, extra: Partial<Item> = {}): Item => ({ id, rows, ...extra });
  return { clock, queue, batches, out, answer, answerNewest, item };
}

/** Records how a promise settled, without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
}

describe("when a batch goes", () => {
  it("items arriving in the same turn share a batch, sent after that turn whatever lingerUs", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 10_000_000 });
    const a = queue.push(item("a"));
    const b = queue.push(item("b", 3));
    expect(batches).toEqual([]);
    await clock.turn();
    expect(batches).toEqual([["a", "b"]]);
    const c = watch(queue.push(item("c")));
    await clock.turn();
    expect(batches).toHaveLength(1); // one batch out at a time: c waits for it
    await answer();
    await expect(a).resolves.toBe("a");
    await expect(b).resolves.toBe("b");
    expect(c.done).toBe(false);
  });

  it("after a batch, the next waits for as many arrivals as it answered, and goes as soon as they are there", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 20_000 });
    queue.push(item("a"));
    queue.push(item("b"));
    await clock.turn();
    queue.push(item("c")); // waits through the batch
    await answer();
    expect(batches).toEqual([["a", "b"]]); // 2 answered, none back yet
    queue.push(item("a2"));
    await clock.turn();
    expect(batches).toHaveLength(1);
    queue.push(item("b2"));
    await clock.turn();
    expect(batches).toEqual([
      ["a", "b"],
      ["c", "a2", "b2"],
    ]);
    expect(clock.now()).toBe(0); // no time passed: it did not wait out the linger
  });

  it("that wait is bounded by lingerUs", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 20_000 });
    queue.push(item("a"));
    queue.push(item("b"));
    await clock.turn();
    queue.push(item("c"));
    await answer();
    queue.push(item("a2")); // one of the two comes back
    await clock.advance(19.9);
    expect(batches).toHaveLength(1);
    await clock.advance(0.1);
    expect(batches).toEqual([
      ["a", "b"],
      ["c", "a2"],
    ]);
  });

  it("the wait ends at once when the rows waiting fill a batch", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 20_000, maxBatchRows: 4 });
    for (const id of ["a", "b", "c"]) queue.push(item(id));
    await clock.turn();
    queue.push(item("d", 2));
    await answer();
    expect(batches).toHaveLength(1); // 3 answered, none back: lingering
    queue.push(item("e", 2)); // 4 rows wait: a full batch
    await clock.turn();
    expect(batches).toEqual([
      ["a", "b", "c"],
      ["d", "e"],
    ]);
    expect(clock.now()).toBe(0);
  });

  it("items left out of the last batch (another tag, too many rows) go right after it, without the linger", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 10_000_000, maxBatchRows: 3 });
    queue.push(item("a", 2, { tag: "x" }));
    queue.push(item("b", 1, { tag: "y" }));
    queue.push(item("c", 2, { tag: "x" }));
    await clock.turn();
    expect(batches).toEqual([["a"]]); // b another tag, c too many rows
    await answer();
    expect(batches).toEqual([["a"], ["b"]]);
    await answer();
    expect(batches).toEqual([["a"], ["b"], ["c"]]);
    expect(clock.now()).toBe(0);
  });

  it("an item arriving after the last batch went is not left behind: it waits for the callers answered", async () => {
    const { clock, queue, batches, answer, item } = harness({ lingerUs: 5_000 });
    queue.push(item("a", 1, { tag: "x" }));
    await clock.turn();
    queue.push(item("b", 1, { tag: "y" }));
    await answer();
    await clock.advance(4.9);
    expect(batches).toEqual([["a"]]);
    await clock.advance(0.1);
    expect(batches).toEqual([["a"], ["b"]]);
  });
});

describe("in flight", () => {
  it("a batch out longer than stallMs frees its slot; past maxStalled, items wait", async () => {
    const { clock, queue, batches, answer, item } = harness({ stallMs: 100, maxStalled: 1, maxBatchRows: 1 });
    const a = watch(queue.push(item("a")));
    await clock.turn();
    const b = watch(queue.push(item("b")));
    await clock.advance(99);
    expect(batches).toEqual([["a"]]);
    await clock.advance(1); // a stalls: b goes
    expect(batches).toEqual([["a"], ["b"]]);
    queue.push(item("c"));
    await clock.advance(500); // b stalls too, but one stalled batch is the most: c waits
    expect(batches).toEqual([["a"], ["b"]]);
    await answer(); // a, at last: b still counts
    expect(a.done).toBe(true);
    expect(batches).toHaveLength(2);
    await answer();
    expect(b.done).toBe(true);
    expect(batches).toEqual([["a"], ["b"], ["c"]]);
  });

  it("with maxInFlight 2, two batches are out at once", async () => {
    const { clock, queue, batches, item } = harness({ maxInFlight: 2, maxBatchRows: 1 });
    for (const id of ["a", "b", "c"]) queue.push(item(id));
    await clock.turn();
    expect(batches).toEqual([["a"], ["b"]]);
  });
});

describe("cutting", () => {
  it("with cut, an item larger than the room left is cut across batches and answered whole, in row order", async () => {
    const { clock, queue, batches, answer, item } = harness({ cut: true, maxBatchRows: 4 });
    const a = queue.push(item("a", 6));
    const b = queue.push(item("b", 3));
    await clock.turn();
    await answer();
    await answer();
    await answer();
    expect(batches).toEqual([["a[0,4)"], ["a[4,6)", "b[0,2)"], ["b[2,3)"]]);
    await expect(a).resolves.toBe("a[0,4) + a[4,6)");
    await expect(b).resolves.toBe("b[0,2) + b[2,3)");
    expect(queue.stats).toMatchObject({ batches: 3, items: 2, rows: 9 });
  });

  it("parts of a cut item answered out of order (two batches in flight) are joined in row order, once all are in", async () => {
    const { clock, queue, batches, answer, answerNewest, item } = harness({ cut: true, maxBatchRows: 2, maxInFlight: 2 });
    const a = watch(queue.push(item("a", 4)));
    await clock.turn();
    expect(batches).toEqual([["a[0,2)"], ["a[2,4)"]]);
    await answerNewest();
    expect(a.done).toBe(false);
    await answer();
    expect(a.value).toBe("a[0,2) + a[2,4)");
  });

  it("without cut, an item larger than a batch goes whole and alone", async () => {
    const { clock, queue, batches, answer, item } = harness({ maxBatchRows: 4 });
    const a = queue.push(item("a", 6));
    queue.push(item("b", 1));
    await clock.turn();
    await answer();
    expect(batches).toEqual([["a"], ["b"]]);
    await expect(a).resolves.toBe("a");
  });
});

describe("limits and leaving", () => {
  it("rows beyond maxQueueRows are refused with RESOURCE_EXHAUSTED naming the limit; once drained, items are taken again", async () => {
    const { clock, queue, answer, item } = harness({ maxQueueRows: 4, maxBatchRows: 2 });
    const kept = [queue.push(item("a", 2)), queue.push(item("b", 2))];
    const refused = queue.push(item("c", 1));
    await expect(refused).rejects.toMatchObject({ code: "RESOURCE_EXHAUSTED", message: "test queue is full: 4 rows wait, 1 more would pass the limit of 4" });
    expect(queue.stats.refused).toBe(1);
    await clock.turn();
    await answer();
    await answer();
    await Promise.all(kept);
    const again = queue.push(item("d", 4));
    await clock.turn();
    await answer();
    await expect(again).resolves.toBe("d");
  });

  it("an item whose signal aborts before it started leaves with CANCELLED (and frees its rows); a started one finishes", async () => {
    const { clock, queue, batches, answer, item } = harness({ maxQueueRows: 2, maxBatchRows: 2 });
    const gone = new AbortController();
    const stay = queue.push(item("a"));
    const left = queue.push(item("b"), { signal: gone.signal });
    gone.abort();
    await expect(left).rejects.toMatchObject({ code: "CANCELLED" });
    const late = new AbortController();
    const started = queue.push(item("c"), { signal: late.signal }); // b's row is free again: c fits
    await clock.turn();
    expect(batches).toEqual([["a", "c"]]);
    late.abort();
    await answer();
    await expect(stay).resolves.toBe("a");
    await expect(started).resolves.toBe("c");
    await expect(queue.push(item("d"), { signal: gone.signal })).rejects.toMatchObject({ code: "CANCELLED" });
  });

  it("an item past its deadline fails with DEADLINE_EXCEEDED, waiting or in flight; its late answer is dropped", async () => {
    const { clock, queue, batches, answer, item } = harness({ maxBatchRows: 1 });
    const out = watch(queue.push(item("a"), { deadlineMs: 50 }));
    const waiting = watch(queue.push(item("b"), { deadlineMs: 30 }));
    const patient = queue.push(item("c"), { deadlineMs: 1000 });
    await clock.advance(30);
    expect((waiting.error as ShardmaxError).code).toBe("DEADLINE_EXCEEDED");
    expect(out.done).toBe(false);
    await clock.advance(20);
    expect((out.error as ShardmaxError).code).toBe("DEADLINE_EXCEEDED");
    await answer(); // a's answer arrives late and is dropped; b left the queue, so c is next
    expect(batches).toEqual([["a"], ["c"]]);
    await answer();
    await expect(patient).resolves.toBe("c");
    expect(clock.pending).toBe(0); // c's deadline timer was cleared
  });
});

describe("isolation", () => {
  it("a failed batch of several items is re-run item by item, in turn: only the bad item fails", async () => {
    const { clock, queue, batches, answer, item } = harness();
    const results = [item("a"), item("bad", 2, { bad: true }), item("c")].map((i) => queue.push(i));
    const settled = Promise.allSettled(results);
    await clock.turn();
    await answer(); // the batch fails: a is re-run alone first
    expect(batches).toEqual([["a", "bad", "c"], ["a"]]);
    await answer();
    expect(batches).toEqual([["a", "bad", "c"], ["a"], ["bad"]]);
    await answer();
    await answer();
    const [a, bad, c] = await settled;
    expect(a).toEqual({ status: "fulfilled", value: "a" });
    expect(bad).toMatchObject({ status: "rejected", reason: { code: "INVALID_ARGUMENT" } });
    expect(c).toEqual({ status: "fulfilled", value: "c" });
    expect(queue.stats).toMatchObject({ batches: 4, isolatedRuns: 3, rows: 8 });
  });

  it("with isolation at-once, the lone re-runs go out together", async () => {
    const { clock, queue, batches, answer, item } = harness({ isolation: "at-once" });
    for (const i of [item("a"), item("bad", 1, { bad: true }), item("c")]) queue.push(i).catch(() => {});
    await clock.turn();
    await answer();
    expect(batches).toEqual([["a", "bad", "c"], ["a"], ["bad"], ["c"]]);
  });

  it("a failed batch of one item cut across batches fails that item and drops its waiting rows", async () => {
    const { clock, queue, batches, answer, item } = harness({ cut: true, maxBatchRows: 2 });
    const bad = queue.push(item("bad", 5, { bad: true })).catch((err: unknown) => err);
    const next = queue.push(item("n"));
    await clock.turn();
    await answer();
    expect(await bad).toMatchObject({ code: "INVALID_ARGUMENT" });
    await answer();
    expect(batches).toEqual([["bad[0,2)"], ["n"]]);
    await expect(next).resolves.toBe("n");
  });
});

describe("what the observer is told", () => {
  it("each item's wait once (when its first rows leave), each batch's rows and run time, and onStart with the wait", async () => {
    const waited: number[] = [];
    const ran: [number, number][] = [];
    const { clock, queue, answer, item } = harness({
      maxBatchRows: 4,
      cut: true,
      observer: { waited: (s) => void waited.push(s), ran: (rows, s) => void ran.push([rows, s]) },
    });
    const started: string[] = [];
    const a = queue.push(item("a", 6), { onStart: () => void started.push(`a@${clock.now()}`) });
    await clock.turn();
    await clock.advance(30);
    const b = queue.push(item("b", 1), { onStart: () => void started.push(`b@${clock.now()}`) });
    await clock.advance(20);
    await answer(); // a[0,4) ran 50 ms; then a[4,6) + b go
    await clock.advance(5);
    await answer();
    await expect(a).resolves.toBe("a[0,4) + a[4,6)");
    await expect(b).resolves.toBe("b");
    expect(waited).toEqual([0, 0.02]);
    expect(started).toEqual(["a@0", "b@50"]);
    expect(ran).toEqual([
      [4, 0.05],
      [3, 0.005],
    ]);
  });
});
