/**
 * A shard's slice as a SliceSource over an open head: rows are read block by
 * block, straight from the checkpoint into the buffer a block's session is
 * built from, so the slice is never held twice. Used on whichever thread
 * builds the session (the inference worker, or the main thread).
 */
import { checkFiniteRows } from "../../shared/checkpoint/finite-scan.js";
import type { HeadSource } from "../../shared/checkpoint/head-source.js";
import { ClassRange } from "../../shared/ranges.js";
import type { SliceSource } from "./session.js";

/** Told while a block's rows are read: the block (local ids) and its bytes read so far, of all. */
export type ReadProgress = (local: ClassRange, bytesDone: number, bytesTotal: number) => void;

export function headSliceSource(head: HeadSource, range: ClassRange, onRead: ReadProgress): SliceSource {
  return {
    rows: range.size,
    dim: head.description.dim,
    hasBias: head.description.biasTensor !== null,
    read: async (local, weight, bias) => {
      await head.readRowsInto(ClassRange.of(range.start + local.start, range.start + local.end), { weight, bias }, (done, total) => onRead(local, done, total));
      checkFiniteRows(head.description, range.start + local.start, local.size, weight, bias);
    },
  };
}
