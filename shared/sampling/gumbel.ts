/**
 * G(seed, j, i): the Gumbel noise of draw j of a row with seed `seed`, for the
 * global class id i. A counter-based function of those three integers alone,
 * so a draw never depends on the shard count, the layout of the ranges, the
 * batch a row travelled in, the replica that answered or a re-run.
 *
 *   G(seed, j, i) = −log X_i,   X_i iid standard exponential
 *
 * X is built per group of 256 consecutive global ids, g = ⌊i / 256⌋, as an
 * exponential race: the smallest of 256 standard exponentials is
 * E_g ~ Exp(256), it is held by a uniformly chosen member a_g, and by
 * memorylessness every other member exceeds it by an independent Exp(1):
 *
 *   E_g = −log(v_g) / 256,   X_i = E_g (i = a_g),   X_i = E_g − log(w_i) (otherwise)
 *
 * with v_g, w_i uniform in (0, 1). This is exactly iid (the joint law of 256
 * exponentials given their minimum and argmin), and it lets a shard skip a
 * whole group whose E_g already rules out every member (sample-scan.ts).
 *
 * The uniforms come from murmur3's 32-bit finaliser, keyed by (seed, j):
 *
 *   mix(x)          = murmur3 fmix32
 *   k0              = mix(seed_lo ^ mix(j ^ 0x9e3779b9)),   k1 = mix(seed_hi ^ mix(k0 ^ 0x632be5ab))
 *   word(x, t)      = mix(mix(x ^ k0) ^ ((k1 + t·0x9e3779b9) mod 2^32))
 *   unit(x, t1, t2) = ((word(x, t1) >> 5)·2^26 + (word(x, t2) >> 6) + 0.5) / 2^53
 *   v_g = unit(g, 1, 2),   a_g = 256·g + (word(g, 3) mod 256),   w_i = unit(i, 4, 5)
 *
 * where seed_lo / seed_hi are the low 32 and high 21 bits of the 53-bit seed.
 * It is a statistical generator, not a cryptographic one.
 */

export const GROUP_SIZE = 256;
/** Seeds are integers 0 … 2^53 − 1, so they survive a JSON number and a float64. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** A seed is an integer 0 … 2^53 − 1 (checked the same at the SDK, the gateway and the shard). */
export function isSeed(s: unknown): s is number {
  return typeof s === "number" && Number.isSafeInteger(s) && s >= 0;
}

const GOLDEN = 0x9e3779b9;

export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The two key words of draw j of a row; computed once per (row, draw). */
export interface DrawKey {
  readonly k0: number;
  readonly k1: number;
}

export function drawKey(seed: number, draw: number): DrawKey {
  const lo = (seed % 2 ** 32) >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const k0 = mix32((lo ^ mix32((draw ^ GOLDEN) >>> 0)) >>> 0);
  const k1 = mix32((hi ^ mix32((k0 ^ 0x632be5ab) >>> 0)) >>> 0);
  return { k0, k1 };
}

export function word(key: DrawKey, x: number, tag: number): number {
  return mix32((mix32((x ^ key.k0) >>> 0) ^ ((key.k1 + Math.imul(tag, GOLDEN)) >>> 0)) >>> 0);
}

/** A 53-bit uniform in (0, 1) from two tagged words. */
export function unit(key: DrawKey, x: number, tagHigh: number, tagLow: number): number {
  return ((word(key, x, tagHigh) >>> 5) * 2 ** 26 + (word(key, x, tagLow) >>> 6) + 0.5) / 2 ** 53;
}

/** E_g: the smallest exponential of group g. */
export function groupMin(key: DrawKey, group: number): number {
  return -Math.log(unit(key, group, 1, 2)) / GROUP_SIZE;
}

/** a_g: the global id that holds E_g. */
export function groupHolder(key: DrawKey, group: number): number {
  return group * GROUP_SIZE + (word(key, group, 3) % GROUP_SIZE);
}

/** X_i − E_g = −log w_i for a member that does not hold the minimum. */
export function excess(key: DrawKey, id: number): number {
  return -Math.log(unit(key, id, 4, 5));
}

/** X_i, the exponential of class i. */
export function exponential(key: DrawKey, id: number): number {
  const group = Math.floor(id / GROUP_SIZE);
  const min = groupMin(key, group);
  return id === groupHolder(key, group) ? min : min + excess(key, id);
}

/** G(seed, j, i) = −log X_i. */
export function gumbel(seed: number, draw: number, id: number): number {
  return -Math.log(exponential(drawKey(seed, draw), id));
}

/** The Gumbel-max key of class i in draw j: z_i + G. */
export function drawScore(logit: number, key: DrawKey, id: number): number {
  return logit - Math.log(exponential(key, id));
}

/** Argmax order of draws: the larger key, then the smaller id. */
export function beats(keyA: number, idA: number, keyB: number, idB: number): boolean {
  return keyA > keyB || (keyA === keyB && idA < idB);
}
