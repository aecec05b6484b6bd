/**
 * What the batcher carries: a call as the server decoded and checked it, and
 * where a part of one sits in a batch. Apart from batcher.ts so that
 * batch-assembly.ts and the batcher do not import each other.
 */
import type { PartialSlot } from "../../shared/math/partial-slice.js";
import type { RowOptions } from "../../shared/math/row-options.js";

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
