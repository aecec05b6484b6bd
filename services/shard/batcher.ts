/**
 * Dynamic batching on a shard: concurrent calls are coalesced into one run of
 * the session, on the queue policy of shared/batching/batch-queue.ts (why and
 * when a batch goes, cutting, limits, isolation are documented there).
 *
 * The knobs are Triton's: `maxBatchRows` and `maxQueueDelayUs` (the queue's
 * `lingerUs`: after a run, how long the next may wait for as many calls as
 * the run answered). A call larger than a batch is cut across runs; a call is
 * checked before it is queued; one run at a time, because the session uses
 * every onnxruntime thread, and a failed batch is re-run call by call in turn.
 *
 * Copies: a call's hidden rows and target ids stay the wire bytes (any
 * alignment) until they are copied, once, into the batch's aligned arrays
 * (batch-assembly.ts).
 */

import { type BatchObserver, BatchQueue, type Piece } from "../../shared/batching/batch-queue.js";
import { type Clock, realClock } from "../../shared/batching/clock.js";
import { ShardmaxError } from "../../shared/errors.js";
import { assembleBatch, prefixSums } from "./batch-assembly.js";
import type { PartialBatch } from "./session.js";
import type { BatchSlot, ShardCall } from "./shard-call.js";

export type { BatchSlot, ShardCall } from "./shard-call.js";

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
  /** Told of queue waits and runs (the shard's metrics). */
  observer?: BatchObserver;
}

export interface BatcherStats {
  runs: number;
  calls: number;
  rows: number;
  /** Runs of a single call repeated after its batch failed. */
  isolatedRuns: number;
  refused: number;
}

/** A queued call with its target offsets: targetStart[row] = index in targetIds of the row's first target. */
interface Queued {
  call: ShardCall;
  targetStart: Uint32Array;
}

export class Batcher<R> {
  private readonly queue: BatchQueue<Queued, R>;

  constructor(
    private readonly kind: BatchKind<R>,
    private readonly options: BatcherOptions,
    clock: Clock = realClock,
  ) {
    const { maxBatchRows, maxQueueRows, maxQueueDelayUs, observer } = options;
    this.queue = new BatchQueue<Queued, R>(
      { rows: (q) => q.call.rows, run: (pieces) => this.runBatch(pieces), join: (parts) => kind.join(parts) },
      // One run at a time, re-runs in turn: a run already uses every onnxruntime thread.
      {
        maxBatchRows,
        maxQueueRows,
        lingerUs: maxQueueDelayUs,
        maxInFlight: 1,
        stallMs: Infinity,
        maxStalled: 0,
        cut: true,
        isolation: "in-turn",
        name: "shard queue",
        observer,
      },
      clock,
    );
  }

  get stats(): Readonly<BatcherStats> {
    const { batches, items, rows, isolatedRuns, refused } = this.queue.stats;
    return { runs: batches, calls: items, rows, isolatedRuns, refused };
  }

  /** Rows waiting for a run now. */
  get waitingRows(): number {
    return this.queue.waitingRows;
  }

  /** Queues a call; `signal` drops it if the caller goes away before it starts; `onStart` is told when it leaves the queue. */
  run(call: ShardCall, signal?: AbortSignal, onStart?: () => void): Promise<R> {
    if (call.rows < 1) return Promise.reject(new ShardmaxError("INTERNAL", "an empty call must never reach the batcher"));
    return this.queue.push({ call, targetStart: prefixSums(call.targetCounts) }, { signal, onStart });
  }

  private async runBatch(pieces: readonly Piece<Queued>[]): Promise<R[]> {
    const parts = pieces.map(({ item, firstRow, rows }) => ({ call: item.call, targetStart: item.targetStart, firstRow, rows }));
    const { batch, slots } = assembleBatch(parts, this.options.dim);
    const result = await this.kind.run(batch);
    return slots.map((slot) => this.kind.slice(result, slot));
  }
}
