/**
 * Dynamic batching: concurrent calls are coalesced into one run of the
 * session, because a run streams the whole weight slice once whatever its
 * batch (at batch 1 a shard is memory-bound; 32 rows cost a few times 1 row).
 *
 * The knobs are Triton's, `maxBatchRows` and `maxQueueDelayUs`, with one
 * difference in when the delay applies. A call reaching an idle session runs
 * at once (with whatever arrived in the same event-loop turn). Calls that
 * queued during a run could start as soon as it ends, but under closed-loop
 * load that splits the callers into two cohorts that alternate in half-size
 * batches forever: the cohort just answered sends its next calls a
 * millisecond or two later. So after a run, if calls were waiting, the next
 * run waits up to `maxQueueDelayUs` for as many calls as the run answered,
 * then starts; it starts at once when `maxBatchRows` rows wait. A call
 * larger than a batch is cut into several (so a run never exceeds
 * `maxBatchRows` rows, which bounds its [rows, V_s] intermediates); rows
 * waiting beyond `maxQueueRows` are refused with RESOURCE_EXHAUSTED instead
 * of growing memory without bound.
 *
 * Isolation: a call is checked before it is queued; if a run of several calls
 * still fails (e.g. one row's logits overflow), each call is run again alone,
 * so only the bad call fails. One run at a time: the session uses every
 * onnxruntime thread, and calls arriving meanwhile form the next batch.
 *
 * Copies: a call's hidden rows and target ids stay the wire bytes (any
 * alignment) until they are copied, once, into the batch's aligned arrays
 * (batch-assembly.ts).
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { PartialSlot } from "../../shared/math/partial-slice.js";
import type { RowOptions } from "../../shared/math/row-options.js";
import { assembleBatch, prefixSums } from "./batch-assembly.js";
import type { PartialBatch } from "./session.js";

/** One caller's request as the server decoded and checked it. */
export interface ShardCall {
  rows: number;
  /** rows × d float32, little-endian, as received. */
  hidden: Uint8Array;
  topK: number;
  /** Per-row temperature and sampling options, decoded (small: a few numbers per row). */
  options: RowOptions;
  /** Per row, how many of `targetIds` belong to it. */
  targetCounts: Uint32Array;
  /** uint32 little-endian global class ids, as received. */
  targetIds: Uint8Array;
}

/** Which rows and targets of a batch answer one call (or one part of a call cut across batches). */
export type BatchSlot = PartialSlot;

/** What a batcher needs of the work it batches; `R` is a run's result (a BatchPartial for a shard). */
export interface BatchKind<R> {
  run(batch: PartialBatch): Promise<R>;
  /** The part of a batch's result that answers `slot`. */
  slice(result: R, slot: BatchSlot): R;
  /** A call's answer from its parts, in row order (a call larger than a batch spans several). */
  join(parts: R[]): R;
}

/**
 * `--max-batch-rows auto`: as many rows as keep one [rows, classes] float32
 * tensor of a run within 128 MiB (a run holds a few such intermediates),
 * between 8 and 128. Throughput per row stops improving well
 * before that (measured: bench/REPORT.md), while onnxruntime's arena keeps
 * the largest run's memory for good: a 1M-class slice at 128 rows held 6 GiB.
 */
export function autoMaxBatchRows(sliceClasses: number): number {
  const LOGITS_BUDGET = 2 ** 25;
  return Math.max(8, Math.min(128, Math.floor(LOGITS_BUDGET / sliceClasses)));
}

export interface BatcherOptions {
  dim: number;
  maxBatchRows: number;
  maxQueueDelayUs: number;
  maxQueueRows: number;
}

export interface BatcherStats {
  runs: number;
  calls: number;
  rows: number;
  /** Runs of a single call repeated after its batch failed. */
  isolatedRuns: number;
  refused: number;
}

interface Waiting<R> {
  call: ShardCall;
  /** targetStart[row] = index in targetIds of the row's first target; rows + 1 entries. */
  targetStart: Uint32Array;
  nextRow: number;
  parts: R[];
  enqueuedMs: number;
  settled: boolean;
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Piece<R> {
  entry: Waiting<R>;
  firstRow: number;
  rows: number;
}

export class Batcher<R> {
  private readonly queue: Waiting<R>[] = [];
  private queuedRows = 0;
  private running = false;
  private timer: { kind: "turn"; handle: NodeJS.Immediate } | { kind: "delay"; handle: NodeJS.Timeout } | null = null;
  /** Set when a run ended with calls waiting: when, how many calls it answered, how many have arrived since. */
  private afterRun: { endedMs: number; answered: number; arrived: number } | null = null;
  private settled = 0;
  private readonly counters: BatcherStats = { runs: 0, calls: 0, rows: 0, isolatedRuns: 0, refused: 0 };

  constructor(
    private readonly kind: BatchKind<R>,
    private readonly options: BatcherOptions,
  ) {
    if (options.maxQueueRows < options.maxBatchRows) throw new RangeError("maxQueueRows must be at least maxBatchRows");
  }

  get stats(): Readonly<BatcherStats> {
    return { ...this.counters };
  }

  /** Queues a call; `signal` drops it if the caller goes away before it starts. */
  run(call: ShardCall, signal?: AbortSignal): Promise<R> {
    if (call.rows < 1) return Promise.reject(new ShardmaxError("INTERNAL", "an empty call must never reach the batcher"));
    if (signal?.aborted) return Promise.reject(new ShardmaxError("CANCELLED", "the caller went away before the call was queued"));
    if (this.queuedRows + call.rows > this.options.maxQueueRows) {
      this.counters.refused++;
      return Promise.reject(
        new ShardmaxError("RESOURCE_EXHAUSTED", `shard queue is full: ${this.queuedRows} rows wait, ${call.rows} more would pass the limit of ${this.options.maxQueueRows}`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const entry: Waiting<R> = { call, targetStart: prefixSums(call.targetCounts), nextRow: 0, parts: [], enqueuedMs: performance.now(), settled: false, resolve, reject };
      this.queue.push(entry);
      this.queuedRows += call.rows;
      this.counters.calls++;
      if (this.afterRun) this.afterRun.arrived++;
      signal?.addEventListener("abort", () => this.abandon(entry), { once: true });
      this.schedule();
    });
  }

  private abandon(entry: Waiting<R>): void {
    // Only a call none of whose rows has started can leave; a started one finishes.
    if (entry.nextRow > 0 || !this.queue.includes(entry)) return;
    this.fail(entry, new ShardmaxError("CANCELLED", "the caller went away before the call started"));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0 || this.timer?.kind === "turn") return;
    const after = this.afterRun;
    const back = !after || after.arrived >= after.answered;
    const remainingUs = after ? (after.endedMs - performance.now()) * 1000 + this.options.maxQueueDelayUs : 0;
    if (this.queuedRows >= this.options.maxBatchRows || back || remainingUs <= 0) {
      if (this.timer) clearTimeout(this.timer.handle);
      // One turn of the event loop: calls that arrived in the same read join this batch.
      this.timer = { kind: "turn", handle: setImmediate(() => this.dispatch()) };
    } else if (!this.timer) {
      // Node timers have millisecond granularity: a delay below 1000 µs waits about 1 ms.
      this.timer = { kind: "delay", handle: setTimeout(() => this.dispatch(), remainingUs / 1000) };
    }
  }

  private dispatch(): void {
    this.timer = null;
    if (this.running || this.queue.length === 0) return;
    const pieces = this.take();
    this.running = true;
    this.afterRun = null;
    const settledBefore = this.settled;
    this.runPieces(pieces)
      .catch(() => {}) // every failure was already handed to its call
      .finally(() => {
        this.running = false;
        if (this.queue.length > 0) this.afterRun = { endedMs: performance.now(), answered: this.settled - settledBefore, arrived: 0 };
        this.schedule();
      });
  }

  /** FIFO, up to maxBatchRows; a call that does not fit is cut and its remainder stays first in line. */
  private take(): Piece<R>[] {
    const pieces: Piece<R>[] = [];
    let rows = 0;
    while (this.queue.length > 0 && rows < this.options.maxBatchRows) {
      const entry = this.queue[0]!;
      const take = Math.min(entry.call.rows - entry.nextRow, this.options.maxBatchRows - rows);
      pieces.push({ entry, firstRow: entry.nextRow, rows: take });
      entry.nextRow += take;
      rows += take;
      if (entry.nextRow === entry.call.rows) this.queue.shift();
    }
    this.queuedRows -= rows;
    return pieces;
  }

  private async runPieces(pieces: Piece<R>[]): Promise<void> {
    const live = pieces.filter((p) => !p.entry.settled);
    if (live.length === 0) return;
    try {
      const parts = live.map(({ entry, firstRow, rows }) => ({ call: entry.call, targetStart: entry.targetStart, firstRow, rows }));
      const { batch, slots } = assembleBatch(parts, this.options.dim);
      this.counters.runs++;
      this.counters.rows += batch.rows;
      const result = await this.kind.run(batch);
      live.forEach((piece, i) => this.deliver(piece, this.kind.slice(result, slots[i]!)));
    } catch (err) {
      if (new Set(live.map((p) => p.entry)).size === 1) {
        for (const piece of live) this.fail(piece.entry, err);
        return;
      }
      for (const piece of live) {
        this.counters.isolatedRuns++;
        await this.runPieces([piece]);
      }
    }
  }

  private deliver(piece: Piece<R>, part: R): void {
    const { entry } = piece;
    if (entry.settled) return;
    entry.parts.push(part);
    if (piece.firstRow + piece.rows < entry.call.rows) return;
    entry.settled = true;
    this.settled++;
    try {
      entry.resolve(entry.parts.length === 1 ? entry.parts[0]! : this.kind.join(entry.parts));
    } catch (err) {
      entry.reject(err);
    }
  }

  private fail(entry: Waiting<R>, err: unknown): void {
    if (entry.settled) return;
    entry.settled = true;
    this.settled++;
    entry.parts = [];
    // A call cut across batches may still have rows queued: they leave with it.
    const at = this.queue.indexOf(entry);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.queuedRows -= entry.call.rows - entry.nextRow;
    }
    entry.reject(err);
  }
}
