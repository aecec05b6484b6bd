/**
 * Merges the partials of every range of a RangeMap into exact per-row results.
 * Pure: no I/O; the gateway calls it once all ranges have answered (a merge is
 * never attempted over a subset, since the RangeMap tiles [0, V)).
 */
import { ShardmaxError } from "../errors.js";
import type { RangeMap } from "../ranges.js";
import { combineLogSumExp, logProb } from "./logsumexp.js";
import type { BatchPartial } from "./partial.js";
import { gatherTargetLogits } from "./targets.js";
import { mergeTopK, type SortedRun } from "./topk-merge.js";

export interface ScoredClass {
  id: number;
  logit: number;
  logprob: number;
  prob: number;
}

export interface TargetScore {
  id: number;
  logit: number;
  logprob: number;
}

export interface RowResult {
  logZ: number;
  top: ScoredClass[];
  targets: TargetScore[];
}

/** `partials[s]` answers `map.ranges[s]`; `targets` are the global ids asked per row. */
export function mergePartials(
  map: RangeMap,
  partials: readonly BatchPartial[],
  topK: number,
  targets: readonly (readonly number[])[],
): RowResult[] {
  const rows = partials[0]?.rows ?? 0;
  // The one guard that makes a subset merge impossible whatever the caller does.
  if (partials.length !== map.ranges.length || partials.some((p) => p.rows !== rows)) {
    throw new ShardmaxError("INTERNAL", `merge needs one partial of ${rows} rows per range (${map.ranges.length}), got ${partials.length}`);
  }
  const maxes = new Float64Array(partials.length);
  const sumExps = new Float64Array(partials.length);
  const targetLogits = gatherTargetLogits(targets, map, partials.map((p) => p.targetLogits));
  const results: RowResult[] = [];
  for (let row = 0; row < rows; row++) {
    const runs: SortedRun[] = [];
    partials.forEach((p, s) => {
      maxes[s] = p.max[row]!;
      sumExps[s] = p.sumExp[row]!;
      runs.push({ ids: p.topIds, logits: p.topLogits, offset: row * p.k, count: p.k });
    });
    const logZ = combineLogSumExp(maxes, sumExps);
    const top = mergeTopK(runs, topK).map(({ id, logit }) => {
      const logprob = logProb(logit, logZ);
      return { id, logit, logprob, prob: Math.exp(logprob) };
    });
    const rowTargets = targets[row] ?? [];
    results.push({
      logZ,
      top,
      targets: rowTargets.map((id, i) => {
        const logit = targetLogits[row]![i]!;
        return { id, logit, logprob: logProb(logit, logZ) };
      }),
    });
  }
  return results;
}
