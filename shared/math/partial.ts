/**
 * The partial of one shard: what a shard owning classes `[start, end)` sends
 * back per row instead of its logits. Communication is O(k + targets) numbers
 * per row and shard, against O(V_s) for gathering the logits.
 *
 *   z_i = (W_i · h + b_i) / T
 *   m_s = max_i z_i,   S_s = Σ_i exp(z_i − m_s),   top_s = k largest (i, z_i)
 *
 * A shard computes this with onnxruntime; `partialOfLogits` is the same
 * contract in plain float64 code, used where logits are already at hand (the
 * gather-all baseline) and as the executable statement of the contract.
 */

/** Partials of one shard for a batch of rows, columnar as they travel. */
export interface BatchPartial {
  readonly rows: number;
  /** Entries per row in `topIds` / `topLogits`: min(requested k, shard size). */
  readonly k: number;
  /** Local max per row; −∞ when every class of the shard is −∞. */
  readonly max: Float64Array;
  /** Local Σ exp(z − max) per row, in [1, V_s]; 0 when max is −∞. */
  readonly sumExp: Float64Array;
  /** Row-major rows×k global class ids, best first, ties by smaller id. */
  readonly topIds: Uint32Array;
  readonly topLogits: Float32Array;
  /** Logits of the targets this shard owns, in the order they were asked for. */
  readonly targetLogits: Float32Array;
}

/** Scaled logit: temperature divides the logit, so T < 1 sharpens and T > 1 flattens. */
export function scaleLogit(logit: number, temperature: number): number {
  return logit / temperature;
}

/** Orders (id, logit) pairs best first: larger logit, then smaller id. */
export function comesBefore(logitA: number, idA: number, logitB: number, idB: number): boolean {
  return logitA > logitB || (logitA === logitB && idA < idB);
}

/**
 * Reference partial of one row of already scaled logits owned from `start`.
 * O(V_s · log k); not on the serving hot path.
 */
export function partialOfLogits(
  logits: ArrayLike<number>,
  start: number,
  k: number,
  targets: readonly number[] = [],
): { max: number; sumExp: number; top: { id: number; logit: number }[]; targetLogits: number[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sumExp = 0;
  if (max !== -Infinity) for (let i = 0; i < logits.length; i++) sumExp += Math.exp(logits[i]! - max);
  const order = Array.from({ length: logits.length }, (_, i) => i);
  order.sort((a, b) => (comesBefore(logits[a]!, a, logits[b]!, b) ? -1 : 1));
  const top = order.slice(0, Math.min(k, logits.length)).map((i) => ({ id: start + i, logit: logits[i]! }));
  const targetLogits = targets.map((t) => logits[t - start]!);
  return { max, sumExp, top, targetLogits };
}
