/**
 * The layout a block's weights and a batch's rows take in the shard's graph
 * (partial-graph.ts): the bias becomes one more column of W and the
 * temperature one more column of h,
 *
 *   W' = [W | b],   h' = [h/T | 1/T],   h'·W'ᵀ = (h·Wᵀ + b)/T,
 *
 * so one Gemm yields the scaled logits with no bias broadcast and no division
 * pass over [B, V] (each was a full pass of memory traffic per run). A head
 * without a bias gets a zero column. Block rows are padded to a multiple of
 * SUM_GROUP with rows of logit −∞ (zero weights, bias −∞): they carry no
 * probability mass, rank last and let the graph sum exps in groups.
 */
import { ShardmaxError } from "../../shared/errors.js";

/** The exp-sum is taken in float32 over groups of this many classes, then in float64 over the groups. */
export const SUM_GROUP = 256;

export function paddedRows(rows: number): number {
  return Math.ceil(rows / SUM_GROUP) * SUM_GROUP;
}

/** Floats of an augmented block of `rows` classes (padding included). */
export function augmentedLength(rows: number, dim: number): number {
  return paddedRows(rows) * (dim + 1);
}

/**
 * Turns `block`, whose first rows × dim floats hold W's rows packed, into
 * W' in place (rows spread to stride dim + 1, bias column, padding rows);
 * returns the augmented prefix of `block`. In place so a block is read from
 * disk straight into the buffer handed to onnxruntime.
 */
export function augmentInPlace(block: Float32Array, rows: number, dim: number, bias: Float32Array | null): Float32Array {
  const width = dim + 1;
  const end = augmentedLength(rows, dim);
  if (block.length < end) throw new RangeError(`block buffer of ${block.length} floats, ${end} needed`);
  // From the last row down: row r moves to r·(d+1) ≥ r·d, past every source not yet moved.
  for (let r = rows - 1; r >= 0; r--) {
    block.copyWithin(r * width, r * dim, r * dim + dim);
    block[r * width + dim] = bias ? bias[r]! : 0;
  }
  block.fill(0, rows * width, end);
  for (let r = rows; r < paddedRows(rows); r++) block[r * width + dim] = -Infinity;
  return block.subarray(0, end);
}

/**
 * h' = [h/T | 1/T] for a batch; each entry is h/T rounded once to float32.
 * A row whose h/T or 1/T leaves float32 (an infinity would meet the padding
 * rows' zeros and −∞ as NaN) is refused, naming the row.
 */
export function augmentHidden(hidden: Float32Array, temperature: ArrayLike<number>, rows: number, dim: number): Float32Array {
  const width = dim + 1;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const t = temperature[r]!;
    const inverse = Math.fround(1 / t);
    if (!(inverse > 0 && inverse < Infinity)) {
      throw new ShardmaxError("INVALID_ARGUMENT", `row ${r}: temperature ${t} is out of float32 range (1/T must be a finite float32 above 0)`);
    }
    const from = r * dim;
    const to = r * width;
    for (let j = 0; j < dim; j++) {
      const scaled = Math.fround(hidden[from + j]! / t);
      if (!Number.isFinite(scaled))
        throw new ShardmaxError("INVALID_ARGUMENT", `row ${r}: hidden/temperature overflows float32 (is the temperature too small?)`);
      out[to + j] = scaled;
    }
    out[to + dim] = inverse;
  }
  return out;
}
