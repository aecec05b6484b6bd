/**
 * One batching policy, used by the shard's batcher (calls → one onnxruntime
 * run) and the gateway's coalescer (queries → one Partial per range). Its user
 * supplies only the data handling (`BatchWork`: how many rows an item has, how
 * to run a batch of pieces and cut each piece's answer back out); this queue
 * decides when a batch goes and what it carries.
 *
 * Why batch: a shard's run streams its whole weight slice once whatever the
 * batch (at batch 1 it is memory-bound; 32 rows cost a few times 1 row), and a
 * coalesced gateway batch is one gRPC call per range instead of one per query
 * (on the gateway and in every shard's event loop that per-call cost is most
 * of the CPU spent outside onnxruntime), with every range seeing the same
 * batch at the same moment.
 *
 * When a batch goes:
 * - An item reaching an idle queue goes after one turn of the event loop, with
 *   whatever arrived in the same read. Nothing else delays it (unlike Triton's
 *   max_queue_delay, which always applies).
 * - After a batch is answered, the next one waits up to `lingerUs` for as many
 *   items as that batch answered, and goes as soon as they are there. Without
 *   it, closed-loop callers (a decoder waits for each answer before it asks
 *   again) split into two cohorts that alternate in half-size batches forever:
 *   the cohort just answered sends its next items a millisecond or two later.
 *   Open-loop traffic with a few items already waiting pays up to that wait
 *   per batch; a lower `lingerUs` suits it.
 * - It does not wait when the rows waiting already fill a batch, or when items
 *   that were waiting when the last batch went were left out of it (too many
 *   rows, not compatible): more arrivals cannot help then, and the callers
 *   just answered may be waiting for them.
 *
 * What a batch carries: the first waiting item and, in order, the later ones
 * `compatible` with it, up to `maxBatchRows` (and the work's own `maxRows`).
 * With `cut`, an item larger than the room left is cut and its remainder stays
 * first in line, so a batch never exceeds the row limit (the shard: it bounds
 * a run's [rows, V_s] intermediates); its answer is joined from its parts in
 * row order. Without `cut`, an item goes whole (the gateway: a shard cuts it).
 *
 * In flight: at most `maxInFlight` batches. A batch out longer than `stallMs`
 * stops counting toward that (its replica may be hung: SIGSTOP, a stalled
 * node), so the items behind it do not wait for it; at most `maxStalled` such
 * batches at once, past which new items wait (bounded memory under a hung
 * range).
 *
 * Limits and leaving: more than `maxQueueRows` rows waiting are refused with
 * RESOURCE_EXHAUSTED instead of growing memory without bound. An item whose
 * `signal` aborts before any of its rows started leaves with CANCELLED (a
 * started one finishes); an item past its `deadlineMs` fails with
 * DEADLINE_EXCEEDED at once, started or not, and its late answer is dropped.
 *
 * Isolation: if a batch of several items fails, each is run again alone (in
 * turn or all at once, `isolation`), so only an item that fails alone fails.
 */
import { ShardmaxError } from "../errors.js";
import type { BatchQueueOptions, BatchQueueStats, BatchWork, PushOptions } from "./batch-work.js";
import { type Clock, realClock, type TimerHandle } from "./clock.js";

export type { BatchObserver, BatchQueueOptions, BatchQueueStats, BatchWork, Piece, PushOptions } from "./batch-work.js";

interface Entry<I, R> {
  item: I;
  rows: number;
  /** Arrival order, to tell the items left out of a batch from those that came after it went. */
  seq: number;
  /** When it was queued (clock ms), for the observer's queue wait. */
  queuedMs: number;
  onStart: (() => void) | undefined;
  nextRow: number;
  /** Answers of the pieces done so far, by first row (with several batches in flight they may finish out of order). */
  parts: { firstRow: number; rows: number; part: R }[];
  doneRows: number;
  settled: boolean;
  deadline: TimerHandle | null;
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Taken<I, R> {
  entry: Entry<I, R>;
  firstRow: number;
  rows: number;
}

export class BatchQueue<I, R> {
  private readonly queue: Entry<I, R>[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private stalled = 0;
  private turnPending = false;
  private linger: TimerHandle | null = null;
  /** Set when a batch was answered: when, how many items it answered, how many have arrived since. */
  private afterBatch: { doneMs: number; answered: number; arrived: number } | null = null;
  private arrivals = 0;
  private readonly counters: BatchQueueStats = { batches: 0, items: 0, rows: 0, isolatedRuns: 0, refused: 0 };

  constructor(
    private readonly work: BatchWork<I, R>,
    private readonly options: BatchQueueOptions,
    private readonly clock: Clock = realClock,
  ) {
    if (options.maxQueueRows < options.maxBatchRows) throw new RangeError("maxQueueRows must be at least maxBatchRows");
    if (options.cut && !work.join) throw new RangeError("a queue that cuts items needs a join");
  }

  get stats(): Readonly<BatchQueueStats> {
    return { ...this.counters };
  }

  /** Rows waiting for a batch now (not yet taken). */
  get waitingRows(): number {
    return this.queuedRows;
  }

  push(item: I, { signal, deadlineMs, onStart }: PushOptions = {}): Promise<R> {
    if (signal?.aborted) return Promise.reject(new ShardmaxError("CANCELLED", "the caller went away before the call was queued"));
    const rows = this.work.rows(item);
    if (this.queuedRows + rows > this.options.maxQueueRows) {
      this.counters.refused++;
      const { name, maxQueueRows } = this.options;
      const message = `${name} is full: ${this.queuedRows} rows wait, ${rows} more would pass the limit of ${maxQueueRows}`;
      return Promise.reject(new ShardmaxError("RESOURCE_EXHAUSTED", message));
    }
    return new Promise<R>((resolve, reject) => {
      const entry: Entry<I, R> = {
        item,
        rows,
        seq: this.arrivals++,
        queuedMs: this.clock.now(),
        onStart,
        nextRow: 0,
        parts: [],
        doneRows: 0,
        settled: false,
        deadline: null,
        resolve,
        reject,
      };
      this.queue.push(entry);
      this.queuedRows += rows;
      this.counters.items++;
      if (this.afterBatch) this.afterBatch.arrived++;
      if (deadlineMs !== undefined) {
        const late = () => this.fail(entry, new ShardmaxError("DEADLINE_EXCEEDED", "the query did not finish within its deadline"));
        entry.deadline = this.clock.setTimeout(late, Math.max(0, deadlineMs - this.clock.now()));
      }
      signal?.addEventListener("abort", () => this.abandon(entry), { once: true });
      this.schedule();
    });
  }

  private abandon(entry: Entry<I, R>): void {
    // Only an item none of whose rows has started can leave; a started one finishes.
    if (entry.nextRow === 0) this.fail(entry, new ShardmaxError("CANCELLED", "the caller went away before the call started"));
  }

  private schedule(): void {
    if (this.turnPending || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    const after = this.afterBatch;
    const full = this.queuedRows >= this.limit(this.queue[0]!.item);
    const waitMs = after && after.arrived < after.answered && !full ? after.doneMs + this.options.lingerUs / 1000 - this.clock.now() : 0;
    if (waitMs > 0) {
      // Node timers have millisecond granularity: a wait below 1 ms lasts about 1 ms.
      this.linger ??= this.clock.setTimeout(() => {
        this.linger = null;
        this.afterBatch = null;
        this.schedule();
      }, waitMs);
      return;
    }
    if (this.linger !== null) this.clock.clearTimeout(this.linger);
    this.linger = null;
    this.afterBatch = null;
    this.turnPending = true;
    // One turn of the event loop: items that arrived in the same read join this batch.
    this.clock.setImmediate(() => {
      this.turnPending = false;
      while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) this.dispatch();
    });
  }

  private limit(first: I): number {
    return Math.min(this.options.maxBatchRows, this.work.maxRows?.(first) ?? Infinity);
  }

  private dispatch(): void {
    const mark = this.arrivals;
    const taken = this.take();
    const answered = taken.filter((t) => t.firstRow + t.rows === t.entry.rows).length;
    this.inFlight++;
    let counted = true;
    const stall = Number.isFinite(this.options.stallMs)
      ? this.clock.setTimeout(() => {
          if (this.stalled >= this.options.maxStalled) return;
          counted = false;
          this.inFlight--;
          this.stalled++;
          this.schedule();
        }, this.options.stallMs)
      : null;
    void this.runBatch(taken).finally(() => {
      if (stall !== null) this.clock.clearTimeout(stall);
      if (counted) this.inFlight--;
      else this.stalled--;
      const leftBehind = this.queue.some((e) => e.seq < mark);
      this.afterBatch = leftBehind ? null : { doneMs: this.clock.now(), answered, arrived: 0 };
      this.schedule();
    });
  }

  /** The first waiting item and the later ones compatible with it, up to the row limit (cutting the last with `cut`). */
  private take(): Taken<I, R>[] {
    const first = this.queue[0]!.item;
    const limit = this.limit(first);
    const taken: Taken<I, R>[] = [];
    let rows = 0;
    for (let i = 0; i < this.queue.length && rows < limit; ) {
      const entry = this.queue[i]!;
      const left = entry.rows - entry.nextRow;
      const fits = taken.length === 0 || ((this.work.compatible?.(first, entry.item) ?? true) && (this.options.cut || rows + left <= limit));
      if (!fits) {
        i++;
        continue;
      }
      const n = this.options.cut ? Math.min(left, limit - rows) : left;
      if (entry.nextRow === 0) {
        this.options.observer?.waited((this.clock.now() - entry.queuedMs) / 1000);
        entry.onStart?.();
      }
      taken.push({ entry, firstRow: entry.nextRow, rows: n });
      entry.nextRow += n;
      rows += n;
      if (entry.nextRow === entry.rows) this.queue.splice(i, 1);
      else i++;
    }
    this.queuedRows -= rows;
    return taken;
  }

  private async runBatch(taken: readonly Taken<I, R>[]): Promise<void> {
    const live = taken.filter((t) => !t.entry.settled);
    if (live.length === 0) return;
    this.counters.batches++;
    const rows = live.reduce((n, t) => n + t.rows, 0);
    this.counters.rows += rows;
    const started = this.clock.now();
    const observed = () => this.options.observer?.ran(rows, (this.clock.now() - started) / 1000);
    let results: R[];
    try {
      results = await this.work.run(live.map(({ entry, firstRow, rows }) => ({ item: entry.item, firstRow, rows })));
      observed();
    } catch (err) {
      observed();
      if (new Set(live.map((t) => t.entry)).size === 1) {
        for (const t of live) this.fail(t.entry, err);
        return;
      }
      const alone = (t: Taken<I, R>) => {
        this.counters.isolatedRuns++;
        return this.runBatch([t]);
      };
      if (this.options.isolation === "at-once") await Promise.all(live.map(alone));
      else for (const t of live) await alone(t);
      return;
    }
    live.forEach((t, i) => this.deliver(t, results[i]!));
  }

  private deliver({ entry, firstRow, rows }: Taken<I, R>, part: R): void {
    if (entry.settled) return;
    entry.parts.push({ firstRow, rows, part });
    entry.doneRows += rows;
    if (entry.doneRows < entry.rows) return;
    this.settle(entry);
    try {
      const parts = entry.parts.sort((a, b) => a.firstRow - b.firstRow).map((p) => p.part);
      entry.resolve(parts.length === 1 ? parts[0]! : this.work.join!(parts));
    } catch (err) {
      entry.reject(err);
    }
  }

  private fail(entry: Entry<I, R>, err: unknown): void {
    if (entry.settled) return;
    this.settle(entry);
    entry.parts = [];
    // An item cut across batches may still have rows waiting: they leave with it.
    const at = this.queue.indexOf(entry);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.queuedRows -= entry.rows - entry.nextRow;
    }
    entry.reject(err);
  }

  private settle(entry: Entry<I, R>): void {
    entry.settled = true;
    if (entry.deadline !== null) this.clock.clearTimeout(entry.deadline);
  }
}
