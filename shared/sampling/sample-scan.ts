/**
 * One part's record chain for one draw, from its logits (a shard's block, one
 * row): the cheap exact way to find argmax z_i + G_i without computing G for
 * every class.
 *
 * Every member of a group g has X_i ≥ E_g, the group's smallest exponential
 * (gumbel.ts), which is one hash away; so no member's key z_i − log X_i can
 * exceed U_g = zmax_g − log E_g. Groups are visited in decreasing U_g, a
 * best-first (A*) search: the winner is usually in the first group or two,
 * and the search stops at the first group whose U_g is below the best key L
 * found, without reading any of the remaining groups' members. Inside a
 * visited group a member with z_i < L + log E_g is out without a hash of its
 * own, and one that passes needs −log w_i ≤ exp(zmax_g − L) − E_g, which the
 * high 27 bits of one hash word decide for almost every member; logs are
 * taken only for members that may win. L starts from the part's top-k list.
 * Per draw this costs one hash and one log per group, a sort of the groups,
 * and the members of the few groups visited; the logits are read once per
 * row for the group maxima.
 */
import { ShardmaxError } from "../errors.js";
import { comesBefore } from "../math/partial.js";
import { beats, type DrawKey, drawKey, exponential, GROUP_SIZE, groupHolder, groupMin, unit, word } from "./gumbel.js";
import type { DrawRecord } from "./sample-records.js";

/** Longest chain a part may return; a longer one (far beyond any practical odds) fails the call rather than be cut. */
export const MAX_CHAIN = 64;

/** Allowed classes are the prefix of class order up to and including (logit, id). */
export interface OrderLimit {
  logit: number;
  id: number;
}

export const NO_LIMIT: OrderLimit = { logit: -Infinity, id: 2 ** 32 - 1 };

/** Inside a visited group, members are read in aligned chunks of this many ids; a chunk whose best logit cannot win is skipped. */
export const CHUNK = 32;

/** One row of a part: its logits from global id `start`, and its top list (global ids, class order). */
export interface PartRow {
  logits: Float32Array;
  start: number;
  topIds: ArrayLike<number>;
  topLogits: ArrayLike<number>;
  topCount: number;
  /** Best logit per aligned chunk of CHUNK global ids touching the part (chunkMaxima), when the caller has them. */
  chunks?: Float32Array;
}

/** Maximum logit per aligned run of `size` global ids touching the part. */
export function maximaOf(row: Pick<PartRow, "logits" | "start">, size: number): Float32Array {
  const { logits, start } = row;
  const first = Math.floor(start / size);
  const last = Math.floor((start + logits.length - 1) / size);
  const out = new Float32Array(last - first + 1);
  for (let g = 0; g < out.length; g++) {
    const from = Math.max(0, (first + g) * size - start);
    const to = Math.min(logits.length, (first + g + 1) * size - start);
    let m = -Infinity;
    for (let i = from; i < to; i++) if (logits[i]! > m) m = logits[i]!;
    out[g] = m;
  }
  return out;
}

/** Group maxima from chunk maxima (a group is GROUP_SIZE / CHUNK aligned chunks). */
export function groupsFromChunks(chunks: Float32Array, start: number, size: number): Float32Array {
  const firstGroup = Math.floor(start / GROUP_SIZE);
  const firstChunk = Math.floor(start / CHUNK);
  const out = new Float32Array(Math.floor((start + size - 1) / GROUP_SIZE) - firstGroup + 1).fill(-Infinity);
  for (let c = 0; c < chunks.length; c++) {
    const g = Math.floor(((firstChunk + c) * CHUNK) / GROUP_SIZE) - firstGroup;
    if (chunks[c]! > out[g]!) out[g] = chunks[c]!;
  }
  return out;
}

/**
 * The record chain of draw `draw` over the part's classes within `limit`, in
 * class order; with `chained` false only its last record (the argmax).
 * Classes of logit −∞ have no mass and are never records.
 */
export function scanChain(part: PartRow, maxima: Float32Array, seed: number, draw: number, limit: OrderLimit, chained: boolean): DrawRecord[] {
  const row = part.chunks ? part : { ...part, chunks: maximaOf(part, CHUNK) };
  const noise = new DrawNoise(drawKey(seed, draw), Math.floor(row.start / GROUP_SIZE), maxima);
  const chain: DrawRecord[] = [];
  let bound = { ...limit, inclusive: true };
  for (;;) {
    const best = bestBelow(row, maxima, noise, bound);
    if (!best) break;
    chain.push(best);
    if (!chained) break;
    if (chain.length > MAX_CHAIN) throw new ShardmaxError("INTERNAL", `sampling: a record chain passed ${MAX_CHAIN} records`);
    bound = { logit: best.logit, id: best.id, inclusive: false };
  }
  return chain.reverse();
}

/** A draw's group minima, their logs, holders and visiting order, computed once and shared by the steps of its chain. */
class DrawNoise {
  readonly mins: Float64Array;
  readonly logMins: Float64Array;
  readonly holders: Float64Array;
  /** Group indexes by decreasing bound U_g = zmax_g − log E_g (groups of −∞ logits left out). */
  readonly order: Uint32Array;
  private readonly candidateX = new Map<number, number>();

  constructor(
    readonly key: DrawKey,
    readonly firstGroup: number,
    maxima: Float32Array,
  ) {
    const groups = maxima.length;
    this.mins = new Float64Array(groups);
    this.logMins = new Float64Array(groups);
    this.holders = new Float64Array(groups);
    const bounds = new Float64Array(groups);
    const live: number[] = [];
    for (let g = 0; g < groups; g++) {
      if (maxima[g] === -Infinity) continue;
      this.mins[g] = groupMin(key, firstGroup + g);
      this.logMins[g] = Math.log(this.mins[g]!);
      this.holders[g] = groupHolder(key, firstGroup + g);
      bounds[g] = maxima[g]! - this.logMins[g]!;
      live.push(g);
    }
    this.order = Uint32Array.from(live.sort((a, b) => bounds[b]! - bounds[a]!));
    this.bounds = bounds;
  }

  readonly bounds: Float64Array;

  /** X_i of a top-list candidate, computed once per draw. */
  exponentialOf(id: number): number {
    let x = this.candidateX.get(id);
    if (x === undefined) this.candidateX.set(id, (x = exponential(this.key, id)));
    return x;
  }
}

interface Bound extends OrderLimit {
  inclusive: boolean;
}

function within(logit: number, id: number, bound: Bound): boolean {
  return comesBefore(logit, id, bound.logit, bound.id) || (bound.inclusive && logit === bound.logit && id === bound.id);
}

/** argmax of z + G over the part's finite classes within `bound`, or null. */
function bestBelow(row: PartRow, maxima: Float32Array, noise: DrawNoise, bound: Bound): DrawRecord | null {
  const { logits, start } = row;
  const key = noise.key;
  let bestId = -1;
  let bestLogit = -Infinity;
  let bestKey = -Infinity;
  for (let t = 0; t < row.topCount; t++) {
    const id = row.topIds[t]!;
    const logit = row.topLogits[t]!;
    if (logit === -Infinity || !within(logit, id, bound)) continue;
    const k = logit - Math.log(noise.exponentialOf(id));
    if (bestId < 0 || beats(k, id, bestKey, bestId)) [bestId, bestLogit, bestKey] = [id, logit, k];
  }
  const end = start + logits.length;
  for (const g of noise.order) {
    // Best-first: no group after this one can reach the best key.
    if (bestId >= 0 && noise.bounds[g]! < bestKey) break;
    const zmax = maxima[g]!;
    if (zmax < bound.logit) continue;
    const min = noise.mins[g]!;
    const logMin = noise.logMins[g]!;
    const holder = noise.holders[g]!;
    let zCut = bestId < 0 ? -Infinity : bestKey + logMin;
    let reach = bestId < 0 ? Infinity : Math.exp(zmax - bestKey);
    // A non-holder needs w_i > exp(E_g − reach); w_i < ((word >> 5) + 1) / 2^27 rejects most at one hash.
    let cut = Math.exp(min - reach) * 2 ** 27;
    const group = noise.firstGroup + g;
    const from = Math.max(start, group * GROUP_SIZE);
    const to = Math.min(end, (group + 1) * GROUP_SIZE);
    const unbounded = bound.logit === -Infinity;
    const chunks = row.chunks!;
    const firstChunk = Math.floor(start / CHUNK);
    for (let chunkFrom = from; chunkFrom < to; ) {
      const chunk = Math.floor(chunkFrom / CHUNK);
      const chunkTo = Math.min(to, (chunk + 1) * CHUNK);
      // A chunk whose best logit is below both the cut and the bound holds no candidate.
      if (chunks[chunk - firstChunk]! < Math.max(zCut, bound.logit)) {
        chunkFrom = chunkTo;
        continue;
      }
      for (let id = chunkFrom; id < chunkTo; id++) {
        const logit = logits[id - start]!;
        if (logit < zCut || logit === -Infinity || (!unbounded && !within(logit, id, bound))) continue;
        let x = min;
        if (id !== holder) {
          const high = word(key, id, 4) >>> 5;
          if (high + 1 < cut) continue;
          // The member's own bound: X_i ≤ exp(z_i − L) needs w_i ≥ exp(E_g − exp(z_i − L)); two exps before any log.
          if (bestId >= 0 && (high + 1) / 2 ** 27 < Math.exp(min - Math.exp(logit - bestKey))) continue;
          x = min - Math.log(unit(key, id, 4, 5));
        }
        const k = logit - Math.log(x);
        if (bestId >= 0 && !beats(k, id, bestKey, bestId)) continue;
        bestId = id;
        bestLogit = logit;
        bestKey = k;
        zCut = bestKey + logMin;
        reach = Math.exp(zmax - bestKey);
        cut = Math.exp(min - reach) * 2 ** 27;
      }
      chunkFrom = chunkTo;
    }
  }
  return bestId < 0 ? null : { id: bestId, logit: bestLogit, key: bestKey };
}
