/**
 * k-way merge of per-shard sorted top-k lists into the global top-k.
 * Each shard's list is already its k best, best first; the global k best are
 * among their union, so the merge is exact. Ties go to the smaller class id,
 * also across shard boundaries. O(k · shards) per row.
 */
import { comesBefore } from "./partial.js";

export interface Scored {
  id: number;
  logit: number;
}

/** One shard's sorted list for one row: `count` entries from `offset` in the arrays. */
export interface SortedRun {
  ids: ArrayLike<number>;
  logits: ArrayLike<number>;
  offset: number;
  count: number;
}

export function mergeTopK(runs: readonly SortedRun[], k: number): Scored[] {
  const heads = new Array<number>(runs.length).fill(0);
  const merged: Scored[] = [];
  while (merged.length < k) {
    let best = -1;
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!;
      if (heads[r]! >= run.count) continue;
      if (best < 0) {
        best = r;
        continue;
      }
      const at = run.offset + heads[r]!;
      const bestRun = runs[best]!;
      const bestAt = bestRun.offset + heads[best]!;
      if (comesBefore(run.logits[at]!, run.ids[at]!, bestRun.logits[bestAt]!, bestRun.ids[bestAt]!)) best = r;
    }
    if (best < 0) break;
    const run = runs[best]!;
    const at = run.offset + heads[best]!;
    merged.push({ id: run.ids[at]!, logit: run.logits[at]! });
    heads[best]!++;
  }
  return merged;
}
