/**
 * The contract between the batching queue (batch-queue.ts) and its user: the
 * knobs of the policy, and what the user supplies about its items (their rows,
 * which may share a batch, how a batch runs and how parts of one item join).
 */

export interface BatchQueueOptions {
  /** Most rows in one batch. */
  maxBatchRows: number;
  /** Most rows waiting (not yet in a batch); Infinity for no bound. */
  maxQueueRows: number;
  /** After a batch is answered, how long the next may wait for as many items as it answered. */
  lingerUs: number;
  maxInFlight: number;
  /** A batch out longer than this stops counting toward maxInFlight; Infinity never. */
  stallMs: number;
  maxStalled: number;
  /** Whether an item may be cut across batches (else it goes whole, alone if it is larger than a batch). */
  cut: boolean;
  /** How the items of a failed batch are run again alone: one after another, or all at once. */
  isolation: "in-turn" | "at-once";
  /** Names the queue in a refusal, e.g. "shard queue". */
  name: string;
  /** Told of every wait and run (metrics); none: nothing is measured. */
  observer?: BatchObserver;
}

/** Rows [firstRow, firstRow + rows) of an item. */
export interface Piece<I> {
  item: I;
  firstRow: number;
  rows: number;
}

export interface BatchWork<I, R> {
  rows(item: I): number;
  /** Runs one batch; the answer of each piece, in order. */
  run(pieces: readonly Piece<I>[]): Promise<R[]>;
  /** An item's answer from its parts in row order; required with `cut`. */
  join?(parts: R[]): R;
  /** Whether `next` may share a batch whose first item is `first`; default yes. */
  compatible?(first: I, next: I): boolean;
  /** A row limit of a batch whose first item is `first`, below maxBatchRows. */
  maxRows?(first: I): number;
}

export interface BatchQueueStats {
  /** Batches run, including the lone runs of isolation. */
  batches: number;
  items: number;
  /** Rows run, summed over batches. */
  rows: number;
  /** Lone runs of an item after its batch failed. */
  isolatedRuns: number;
  refused: number;
}

export interface PushOptions {
  /** Drops the item if it aborts before the item started. */
  signal?: AbortSignal;
  /** On the queue's clock: past it, the item fails with DEADLINE_EXCEEDED. */
  deadlineMs?: number;
  /** Called once, when the item's first rows leave the queue for a batch (a trace's queue wait ends there). */
  onStart?: () => void;
}

/**
 * What a queue reports as it works (metrics, traces); the queue calls it, its
 * owner decides where the figures go. Every method must be cheap and must not throw.
 */
export interface BatchObserver {
  /** An item's first rows left the queue after `seconds` waiting. */
  waited(seconds: number): void;
  /** A batch of `rows` ran for `seconds` (answered or failed; an isolated re-run is a batch of its own). */
  ran(rows: number, seconds: number): void;
}
