/**
 * One part's record chain for one draw, from its logits (a shard's block, one
 * row): the cheap exact way to find argmax z_i + G_i without computing G for
 * every class.
 *
 * A class can beat the best key L found so far only if z_i − log X_i > L,
 * i.e. X_i < exp(z_i − L) ≤ exp(zmax_g − L) for its group g (gumbel.ts). The
 * group's smallest exponential E_g is one hash away, so a group with
 * E_g ≥ exp(zmax_g − L) is skipped whole; in a group that survives, a member
 * needs −log w_i < exp(zmax_g − L) − E_g, which the high 27 bits of one hash
 * word already decide for almost every member, so logs are taken only for
 * the rare members that may win. L starts from the part's top-k list, whose
 * keys are computed first. Per draw this costs one hash per group of 256, one
 * hash per member of the groups whose best logit is within a few nats of the
 * winner, and a few logs; the logits are read once per row for the group maxima.
 */
import { ShardmaxError } from "../errors.js";
import { comesBefore } from "../math/partial.js";
import { GROUP_SIZE, beats, drawKey, exponential, groupHolder, groupMin, unit, word, type DrawKey } from "./gumbel.js";
import type { DrawRecord } from "./sample-records.js";

/** Longest chain a part may return; a longer one (far beyond any practical odds) fails the call rather than be cut. */
export const MAX_CHAIN = 64;

/** Allowed classes are the prefix of class order up to and including (logit, id). */
export interface OrderLimit {
  logit: number;
  id: number;
}

export const NO_LIMIT: OrderLimit = { logit: -Infinity, id: 2 ** 32 - 1 };

/** One row of a part: its logits from global id `start`, and its top list (global ids, class order). */
export interface PartRow {
  logits: Float32Array;
  start: number;
  topIds: ArrayLike<number>;
  topLogits: ArrayLike<number>;
  topCount: number;
}

/** Maximum logit per group of 256 global ids touching the part; computed once per row, shared by its draws. */
export function groupMaxima(row: Pick<PartRow, "logits" | "start">): Float32Array {
  const { logits, start } = row;
  const first = Math.floor(start / GROUP_SIZE);
  const last = Math.floor((start + logits.length - 1) / GROUP_SIZE);
  const out = new Float32Array(last - first + 1).fill(-Infinity);
  for (let i = 0; i < logits.length; i++) {
    const g = Math.floor((start + i) / GROUP_SIZE) - first;
    if (logits[i]! > out[g]!) out[g] = logits[i]!;
  }
  return out;
}

/**
 * The record chain of draw `draw` over the part's classes within `limit`, in
 * class order; with `chained` false only its last record (the argmax).
 * Classes of logit −∞ have no mass and are never records.
 */
export function scanChain(row: PartRow, maxima: Float32Array, seed: number, draw: number, limit: OrderLimit, chained: boolean): DrawRecord[] {
  const key = drawKey(seed, draw);
  const chain: DrawRecord[] = [];
  let bound = { ...limit, inclusive: true };
  for (;;) {
    const best = bestBelow(row, maxima, key, bound);
    if (!best) break;
    chain.push(best);
    if (!chained) break;
    if (chain.length > MAX_CHAIN) throw new ShardmaxError("INTERNAL", `sampling: a record chain passed ${MAX_CHAIN} records`);
    bound = { logit: best.logit, id: best.id, inclusive: false };
  }
  return chain.reverse();
}

interface Bound extends OrderLimit {
  inclusive: boolean;
}

function within(logit: number, id: number, bound: Bound): boolean {
  return comesBefore(logit, id, bound.logit, bound.id) || (bound.inclusive && logit === bound.logit && id === bound.id);
}

/** argmax of z + G over the part's finite classes within `bound`, or null. */
function bestBelow(row: PartRow, maxima: Float32Array, key: DrawKey, bound: Bound): DrawRecord | null {
  const { logits, start } = row;
  let bestId = -1;
  let bestLogit = -Infinity;
  let bestKey = -Infinity;
  for (let t = 0; t < row.topCount; t++) {
    const id = row.topIds[t]!;
    const logit = row.topLogits[t]!;
    if (logit === -Infinity || !within(logit, id, bound)) continue;
    const k = logit - Math.log(exponential(key, id));
    if (bestId < 0 || beats(k, id, bestKey, bestId)) [bestId, bestLogit, bestKey] = [id, logit, k];
  }
  const firstGroup = Math.floor(start / GROUP_SIZE);
  const end = start + logits.length;
  for (let g = 0; g < maxima.length; g++) {
    const zmax = maxima[g]!;
    if (zmax === -Infinity || zmax < bound.logit) continue;
    const group = firstGroup + g;
    const min = groupMin(key, group);
    // Every member has X_i ≥ E_g and needs X_i < exp(z_i − L) ≤ reach to win.
    let reach = bestId < 0 ? Infinity : Math.exp(zmax - bestKey);
    if (min > reach) continue;
    const holder = groupHolder(key, group);
    // A non-holder needs w_i > exp(E_g − reach); w_i < ((word >> 5) + 1) / 2^27 rejects most at one hash.
    let cut = Math.exp(min - reach) * 2 ** 27;
    const from = Math.max(start, group * GROUP_SIZE);
    const to = Math.min(end, (group + 1) * GROUP_SIZE);
    for (let id = from; id < to; id++) {
      const logit = logits[id - start]!;
      if (logit === -Infinity || !within(logit, id, bound)) continue;
      let x = min;
      if (id !== holder) {
        if ((word(key, id, 4) >>> 5) + 1 < cut) continue;
        x = min - Math.log(unit(key, id, 4, 5));
      }
      const k = logit - Math.log(x);
      if (bestId >= 0 && !beats(k, id, bestKey, bestId)) continue;
      [bestId, bestLogit, bestKey] = [id, logit, k];
      reach = Math.exp(zmax - bestKey);
      cut = Math.exp(min - reach) * 2 ** 27;
    }
  }
  return bestId < 0 ? null : { id: bestId, logit: bestLogit, key: bestKey };
}
