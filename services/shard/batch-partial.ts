/**
 * The shard's batch kind: batches run on a session (in the worker thread or
 * this one), and each call gets its own rows, targets and top-k back out of
 * the batch's BatchPartial (shared/math/partial-slice.ts).
 */
import type { BatchPartial } from "../../shared/math/partial.js";
import { joinPartials, slicePartial } from "../../shared/math/partial-slice.js";
import type { BatchKind } from "./batcher.js";
import type { PartialBatch } from "./session.js";

export function partialBatches(run: (batch: PartialBatch) => Promise<BatchPartial>): BatchKind<BatchPartial> {
  return { run, slice: slicePartial, join: joinPartials };
}
