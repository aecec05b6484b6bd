/**
 * The log-sum-exp combine of shard partials into the global log-partition:
 *
 *   M = max_s m_s,   logZ = M + log Σ_s S_s · exp(m_s − M)
 *
 * Every term exp(m_s − M) is ≤ 1, so logits in the thousands never overflow,
 * and S_s ≥ 1 for the shard holding M, so the log never sees zero.
 */

/** logZ from per-shard (max, sumExp); −∞ when every class is −∞. */
export function combineLogSumExp(maxes: ArrayLike<number>, sumExps: ArrayLike<number>): number {
  let globalMax = -Infinity;
  for (let s = 0; s < maxes.length; s++) if (maxes[s]! > globalMax) globalMax = maxes[s]!;
  if (globalMax === -Infinity) return -Infinity;
  let total = 0;
  for (let s = 0; s < maxes.length; s++) {
    // A shard whose classes are all −∞ contributes nothing (and would give NaN).
    if (maxes[s] !== -Infinity) total += sumExps[s]! * Math.exp(maxes[s]! - globalMax);
  }
  return globalMax + Math.log(total);
}

/** log p_i = z_i − logZ */
export function logProb(logit: number, logZ: number): number {
  return logit - logZ;
}
