/**
 * The sampling rule in float64 over the whole vocabulary, written from the
 * README's definition and not from the code under test: sort all classes by
 * (logit desc, id asc), keep the top-k prefix, then the top-p prefix (mass
 * before a class < p · mass kept by top-k), then min-p (z − z_max ≥ log minP),
 * and take argmax z + G over what is left, G being the documented noise.
 * G itself is recomputed here from its specification (fmix32 in BigInt-free
 * 32-bit arithmetic written out again), and checked against the library's.
 */
import type { ReferenceRow } from "./reference-softmax.js";

export interface Restrict {
  topK?: number;
  topP?: number;
  minP?: number;
}

function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Number((BigInt(h) * 0x85ebca6bn) & 0xffffffffn);
  h = (h ^ (h >>> 13)) >>> 0;
  h = Number((BigInt(h) * 0xc2b2ae35n) & 0xffffffffn);
  return (h ^ (h >>> 16)) >>> 0;
}

/** G(seed, j, i) from the README's specification. */
export function specGumbel(seed: number, draw: number, id: number): number {
  const lo = Number(BigInt(seed) & 0xffffffffn);
  const hi = Number(BigInt(seed) >> 32n);
  const k0 = fmix32((lo ^ fmix32((draw ^ 0x9e3779b9) >>> 0)) >>> 0);
  const k1 = fmix32((hi ^ fmix32((k0 ^ 0x632be5ab) >>> 0)) >>> 0);
  const word = (x: number, t: number) => fmix32((fmix32((x ^ k0) >>> 0) ^ Number((BigInt(k1) + BigInt(t) * 0x9e3779b9n) & 0xffffffffn)) >>> 0);
  const unit = (x: number, a: number, b: number) => ((word(x, a) >>> 5) * 2 ** 26 + (word(x, b) >>> 6) + 0.5) / 2 ** 53;
  const g = Math.floor(id / 256);
  const min = -Math.log(unit(g, 1, 2)) / 256;
  const holder = g * 256 + (word(g, 3) % 256);
  const x = id === holder ? min : min - Math.log(unit(id, 4, 5));
  return -Math.log(x);
}

/** The allowed classes of a row, in class order. */
export function allowedClasses(ref: ReferenceRow, restrict: Restrict): number[] {
  const order = Array.from(ref.logits.keys()).filter((i) => ref.logits[i] !== -Infinity);
  order.sort((a, b) => ref.logits[b]! - ref.logits[a]! || a - b);
  let kept = restrict.topK ? order.slice(0, restrict.topK) : order;
  if (restrict.topP !== undefined && restrict.topP < 1) {
    const keptMass = kept.reduce((s, i) => s + Math.exp(ref.logProbs[i]!), 0);
    const out: number[] = [];
    let before = 0;
    for (const i of kept) {
      if (!(before < restrict.topP * keptMass)) break;
      out.push(i);
      before += Math.exp(ref.logProbs[i]!);
    }
    kept = out;
  }
  if (restrict.minP) {
    const zmax = ref.logits[order[0]!]!;
    kept = kept.filter((i) => ref.logits[i]! - zmax >= Math.log(restrict.minP!));
  }
  return kept;
}

/** Draw j of a row with seed `seed`: argmax over the allowed classes of z + G, ties by smaller id. */
export function referenceDraw(ref: ReferenceRow, allowed: readonly number[], seed: number, draw: number, gumbel = specGumbel): number {
  let best = -1;
  let bestKey = -Infinity;
  for (const i of allowed) {
    const key = ref.logits[i]! + gumbel(seed, draw, i);
    if (best < 0 || key > bestKey || (key === bestKey && i < best)) [best, bestKey] = [i, key];
  }
  return best;
}

/** P(χ²_k ≥ x): the upper regularized incomplete gamma Q(k/2, x/2). */
export function chiSquarePValue(x: number, k: number): number {
  const a = k / 2;
  const z = x / 2;
  const lnGammaA = logGamma(a);
  if (z < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000; n++) {
      term *= z / (a + n);
      sum += term;
      if (term < sum * 1e-15) break;
    }
    return 1 - sum * Math.exp(-z + a * Math.log(z) - lnGammaA);
  }
  // Continued fraction (Lentz) for Q.
  let b = z + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let n = 1; n < 10_000; n++) {
    const an = -n * (n - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-z + a * Math.log(z) - lnGammaA) * h;
}

function logGamma(x: number): number {
  // Lanczos, g = 7.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Pearson's χ² of observed draws against probabilities `p` (renormalised over
 * the allowed set by the caller); bins expected below 5 are pooled.
 */
export function chiSquare(counts: Map<number, number>, p: Map<number, number>, total: number): { statistic: number; dof: number; pValue: number } {
  let statistic = 0;
  let bins = 0;
  let pooledExpected = 0;
  let pooledObserved = 0;
  for (const [id, prob] of p) {
    const expected = prob * total;
    const observed = counts.get(id) ?? 0;
    if (expected < 5) {
      pooledExpected += expected;
      pooledObserved += observed;
      continue;
    }
    statistic += (observed - expected) ** 2 / expected;
    bins++;
  }
  if (pooledExpected > 0) {
    statistic += (pooledObserved - pooledExpected) ** 2 / Math.max(pooledExpected, 1e-12);
    bins++;
  }
  const dof = Math.max(1, bins - 1);
  return { statistic, dof, pValue: chiSquarePValue(statistic, dof) };
}
