/**
 * Non-finite weights (NaN, ±∞) make every logit of a row NaN, and used to
 * surface only at query time as a misleading "is the temperature too
 * small?". They are found where rows are read: a shard scans each block as it
 * loads (memory it has just written, no second read of the file), and
 * `shardmax inspect` scans the whole head block by block.
 */
import { ShardmaxError } from "../errors.js";
import { ClassRange } from "../ranges.js";
import type { HeadDescription, HeadSource } from "./head-source.js";

function firstNonFinite(values: Float32Array, length: number): number {
  for (let i = 0; i < length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** Throws naming the tensor, row and column of the first non-finite value of rows [firstRow, firstRow + rows). */
export function checkFiniteRows(description: HeadDescription, firstRow: number, rows: number, weight: Float32Array, bias: Float32Array | null): void {
  const { dim, source, weightTensor, biasTensor } = description;
  const w = firstNonFinite(weight, rows * dim);
  if (w >= 0) {
    const at = `${weightTensor}[${firstRow + Math.floor(w / dim)}][${w % dim}]`;
    throw new ShardmaxError("INVALID_ARGUMENT", `weights ${source}: ${at} is ${weight[w]}; every weight must be finite`);
  }
  const b = bias ? firstNonFinite(bias, rows) : -1;
  if (b >= 0) throw new ShardmaxError("INVALID_ARGUMENT", `weights ${source}: ${biasTensor}[${firstRow + b}] is ${bias![b]}; every bias must be finite`);
}

/** Reads the whole head, `blockRows` rows at a time (bounded memory), and throws at its first non-finite value. */
export async function checkFiniteHead(head: HeadSource, blockRows = 4096): Promise<void> {
  const { vocabSize } = head.description;
  for (let start = 0; start < vocabSize; start += blockRows) {
    const end = Math.min(vocabSize, start + blockRows);
    const slice = await head.readRows(ClassRange.of(start, end));
    checkFiniteRows(head.description, start, end - start, slice.weight, slice.bias);
  }
}
