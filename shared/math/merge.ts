/**
 * Merges the partials of every range of a RangeMap into exact per-row results.
 * Pure: no I/O; the gateway calls it once all ranges have answered (a merge is
 * never attempted over a subset, since the RangeMap tiles [0, V)). The ranges
 * are combined by the same rule as a shard's blocks (combine-partials.ts),
 * into the partial of the whole vocabulary, from which
 *
 *   logZ = M + log S,   log p_i = z_i − logZ.
 */
import { ShardmaxError } from "../errors.js";
import type { RangeMap } from "../ranges.js";
import type { RowResult, ScoredClass } from "../results.js";
import { combinePartials } from "./combine-partials.js";
import { logProb } from "./logsumexp.js";
import type { BatchPartial } from "./partial.js";

/**
 * `partials[s]` answers `map.ranges[s]`, each with its top min(k, range size):
 * their combine, the partial of [0, V), whose top list is then the exact first
 * min(k, V) classes of class order.
 */
export function mergeRanges(map: RangeMap, partials: readonly BatchPartial[], k: number, targets: readonly (readonly number[])[]): BatchPartial {
  const rows = partials[0]?.rows ?? 0;
  // The one guard that makes a subset merge impossible whatever the caller does.
  if (partials.length !== map.ranges.length || partials.some((p) => p.rows !== rows)) {
    throw new ShardmaxError("INTERNAL", `merge needs one partial of ${rows} rows per range (${map.ranges.length}), got ${partials.length}`);
  }
  const owners = Uint32Array.from(targets.flatMap((list) => list.map((id) => map.owner(id))));
  return combinePartials(partials, k, owners);
}

/** logZ of row `row` of a whole-vocabulary partial; −∞ when every class is −∞. */
export function logZOf(whole: BatchPartial, row: number): number {
  const m = whole.max[row]!;
  return m === -Infinity ? -Infinity : m + Math.log(whole.sumExp[row]!);
}

/** Rows of exact results from the partial of the whole vocabulary. */
export function rowResults(whole: BatchPartial, topK: number, targets: readonly (readonly number[])[]): RowResult[] {
  const results: RowResult[] = [];
  let target = 0;
  for (let row = 0; row < whole.rows; row++) {
    const logZ = logZOf(whole, row);
    const top: ScoredClass[] = [];
    for (let j = 0; j < Math.min(topK, whole.k); j++) {
      const logit = whole.topLogits[row * whole.k + j]!;
      const logprob = logProb(logit, logZ);
      top.push({ id: whole.topIds[row * whole.k + j]!, logit, logprob, prob: Math.exp(logprob) });
    }
    const rowTargets = (targets[row] ?? []).map((id) => {
      const logit = whole.targetLogits[target++]!;
      return { id, logit, logprob: logProb(logit, logZ) };
    });
    results.push({ logZ, top, targets: rowTargets });
  }
  return results;
}

/** `partials[s]` answers `map.ranges[s]`; `targets` are the global ids asked per row. */
export function mergePartials(map: RangeMap, partials: readonly BatchPartial[], topK: number, targets: readonly (readonly number[])[]): RowResult[] {
  return rowResults(mergeRanges(map, partials, topK, targets), topK, targets);
}
