/**
 * An independent float64 softmax reference and a simulated shard cluster.
 *
 * The reference is written from the formula in ARCHITECTURE.md §1, not from
 * the code under test:
 *
 *   z_i = (W_i · h + b_i) / T,   logZ = M + log Σ_i exp(z_i − M),   log p_i = z_i − logZ
 *
 * The simulated shards stand in for the onnxruntime shards: each computes its
 * partial (max, Σexp, top-k, owned target logits) from float32-rounded logits
 * with its own code here, and the gateway's `mergePartials` combines them.
 */

import { mergePartials } from "../../shared/math/merge.js";
import { type BatchPartial, partialFrom, partialOfLogits, scaleLogit } from "../../shared/math/partial.js";
import { RangeMap, splitAll } from "../../shared/ranges.js";
import type { RowResult } from "../../shared/results.js";

/** A softmax head: W is V×d row-major (one row per class), bias has V entries. */
export interface Head {
  vocabSize: number;
  dim: number;
  weight: Float32Array | Float64Array;
  bias: Float32Array | Float64Array;
}

export interface ReferenceRow {
  /** Scaled logits z_i in float64. */
  logits: Float64Array;
  logZ: number;
  logProbs: Float64Array;
  /** The k best ids: larger logit first, ties by smaller id. */
  topIds: number[];
}

// ---------------------------------------------------------------------------
// Deterministic test data.

/** mulberry32: a tiny 32-bit PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller over a uniform source. */
export function normal(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform(); // (0, 1]: log never sees 0
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Uniform integer in [lo, hi). */
export function randInt(uniform: () => number, lo: number, hi: number): number {
  return lo + Math.floor(uniform() * (hi - lo));
}

/** Fisher–Yates, in place. */
export function shuffle<T>(uniform: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A random float32 head with N(0, scale²) weights and N(0, biasScale²) bias. */
export function randomHead(seed: number, vocabSize: number, dim: number, scale = 1, biasScale = 1): Head {
  const gauss = normal(mulberry32(seed));
  const weight = new Float32Array(vocabSize * dim);
  for (let i = 0; i < weight.length; i++) weight[i] = gauss() * scale;
  const bias = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) bias[i] = gauss() * biasScale;
  return { vocabSize, dim, weight, bias };
}

/** `rows` hidden vectors of N(0, 1) entries, in float64. */
export function randomHidden(seed: number, rows: number, dim: number): Float64Array[] {
  const gauss = normal(mulberry32(seed));
  return Array.from({ length: rows }, () => Float64Array.from({ length: dim }, () => gauss()));
}

// ---------------------------------------------------------------------------
// The float64 reference.

/** z_i = (W_i · h + b_i) / T, accumulated in float64. */
export function referenceLogits(head: Head, hidden: ArrayLike<number>, temperature = 1): Float64Array {
  const { vocabSize, dim, weight, bias } = head;
  const out = new Float64Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    let dot = 0;
    const row = i * dim;
    for (let j = 0; j < dim; j++) dot += weight[row + j]! * hidden[j]!;
    out[i] = (dot + bias[i]!) / temperature;
  }
  return out;
}

/** logZ = M + log Σ exp(z_i − M); −∞ when every logit is −∞. */
export function referenceLogSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/** The k best ids of `logits`: larger logit first, equal logits by smaller id. */
export function referenceTopK(logits: ArrayLike<number>, k: number): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => {
    const za = logits[a]!;
    const zb = logits[b]!;
    if (za !== zb) return za > zb ? -1 : 1;
    return a - b;
  });
  return ids.slice(0, Math.max(0, Math.min(k, logits.length)));
}

export function referenceRow(logits: Float64Array, k: number): ReferenceRow {
  const logZ = referenceLogSumExp(logits);
  const logProbs = logits.map((z) => z - logZ);
  return { logits, logZ, logProbs, topIds: referenceTopK(logits, k) };
}

export function referenceSoftmax(head: Head, hidden: readonly ArrayLike<number>[], k: number, temperature = 1): ReferenceRow[] {
  return hidden.map((h) => referenceRow(referenceLogits(head, h, temperature), k));
}

// ---------------------------------------------------------------------------
// Simulated shards.

export type PartialSource = "own" | "partialOfLogits";

export interface SimulationOptions {
  shards: number;
  topK: number;
  targets?: readonly (readonly number[])[];
  temperature?: number;
  /** Who computes each shard's partial: this file's code, or the library's reference contract. */
  source?: PartialSource;
}

export interface Simulation {
  map: RangeMap;
  partials: BatchPartial[];
  results: RowResult[];
}

/**
 * What one shard owning `[start, end)` sends for one row, from logits already
 * rounded to float32 as an onnxruntime shard would produce them.
 */
export function ownPartial(
  logits32: ArrayLike<number>,
  start: number,
  k: number,
  targets: readonly number[],
): { max: number; sumExp: number; top: { id: number; logit: number }[]; targetLogits: number[] } {
  let max = -Infinity;
  for (let i = 0; i < logits32.length; i++) if (logits32[i]! > max) max = logits32[i]!;
  let sumExp = 0;
  if (max !== -Infinity) for (let i = 0; i < logits32.length; i++) sumExp += Math.exp(logits32[i]! - max);
  const local = referenceTopK(logits32, k);
  return {
    max,
    sumExp,
    top: local.map((i) => ({ id: start + i, logit: logits32[i]! })),
    targetLogits: targets.map((t) => logits32[t - start]!),
  };
}

/** The float32 logits one shard computes for `[start, end)`; temperature through `scaleLogit`. */
export function shardLogits32(head: Head, hidden: ArrayLike<number>, start: number, end: number, temperature: number): Float32Array {
  const out = new Float32Array(end - start);
  for (let i = start; i < end; i++) {
    let dot = 0;
    for (let j = 0; j < head.dim; j++) dot += head.weight[i * head.dim + j]! * hidden[j]!;
    out[i - start] = Math.fround(scaleLogit(dot + head.bias[i]!, temperature));
  }
  return out;
}

/** Splits [0, V) with splitAll, computes every shard's BatchPartial, merges with mergePartials. */
export function simulateShards(head: Head, hidden: readonly ArrayLike<number>[], options: SimulationOptions): Simulation {
  const { shards, topK, targets = [], temperature = 1, source = "own" } = options;
  const ranges = splitAll(head.vocabSize, shards);
  const map = RangeMap.tile(head.vocabSize, ranges);
  const rows = hidden.length;
  const partials = map.ranges.map((range): BatchPartial => {
    const k = Math.min(topK, range.size);
    const max = new Float64Array(rows);
    const sumExp = new Float64Array(rows);
    const topIds = new Uint32Array(rows * k);
    const topLogits = new Float32Array(rows * k);
    const owned: number[] = [];
    for (let row = 0; row < rows; row++) {
      // Routed order: row by row, each row's targets in the order asked.
      const rowTargets = (targets[row] ?? []).filter((t) => range.contains(t));
      const logits = shardLogits32(head, hidden[row]!, range.start, range.end, temperature);
      const p = source === "own" ? ownPartial(logits, range.start, k, rowTargets) : partialOfLogits(logits, range.start, k, rowTargets);
      max[row] = p.max;
      sumExp[row] = p.sumExp;
      p.top.forEach((entry, j) => {
        topIds[row * k + j] = entry.id;
        topLogits[row * k + j] = entry.logit;
      });
      owned.push(...p.targetLogits);
    }
    const targetCounts = Uint32Array.from({ length: rows }, (_, row) => (targets[row] ?? []).filter((t) => range.contains(t)).length);
    return partialFrom({ rows, k, max, sumExp, topIds, topLogits, targetCounts, targetLogits: Float32Array.from(owned) });
  });
  return { map, partials, results: mergePartials(map, partials, topK, targets) };
}

// ---------------------------------------------------------------------------
// Tolerances.

/** Unit roundoff of float32 round-to-nearest: |fround(x) − x| ≤ |x| · 2⁻²⁴. */
export const FLOAT32_UNIT_ROUNDOFF = 2 ** -24;

/**
 * First-order error of logZ computed from float32 logits: logZ moves by
 * Σ p_i·Δz_i with |Δz_i| ≤ |z_i|·u, so by at most u·Σ p_i·|z_i|. Classes of
 * probability 0 (a −1e30 bias) do not widen it. A factor 2 of headroom covers
 * float64 accumulation; never below the 1e-4 absolute of the spec.
 */
export function logZTolerance(ref: ReferenceRow): number {
  return Math.max(1e-4, 2 * FLOAT32_UNIT_ROUNDOFF * meanAbsLogit(ref));
}

/** log p_i = z_i − logZ moves by the rounding of z_i plus that of logZ. */
export function logProbTolerance(ref: ReferenceRow, id: number): number {
  const z = Math.abs(ref.logits[id]!);
  const own = Number.isFinite(z) ? z : 0;
  return Math.max(1e-4, 2 * FLOAT32_UNIT_ROUNDOFF * (own + meanAbsLogit(ref)));
}

const meanAbsCache = new WeakMap<ReferenceRow, number>();

/** Σ p_i·|z_i| over the classes of non-zero probability (cached: O(V) per row). */
function meanAbsLogit(ref: ReferenceRow): number {
  const cached = meanAbsCache.get(ref);
  if (cached !== undefined) return cached;
  let sum = 0;
  for (let i = 0; i < ref.logits.length; i++) {
    const p = Math.exp(ref.logProbs[i]!);
    if (p > 0) sum += p * Math.abs(ref.logits[i]!);
  }
  meanAbsCache.set(ref, sum);
  return sum;
}

/**
 * What onnxruntime's float32 Gemm may move a log-prob by: 1e-4 absolute for
 * ordinary rows, growing with d and the size of the logits when they reach
 * the hundreds (each of d products rounds at the scale of the largest logit).
 */
export function gemmTolerance(ref: ReferenceRow, dim: number): number {
  let scale = 0;
  for (const z of ref.logits) if (Number.isFinite(z) && Math.abs(z) < 1e20) scale = Math.max(scale, Math.abs(z));
  return scale < 100 ? 1e-4 : 1e-4 + 8 * dim * 2 ** -24 * scale;
}

/** |a − b| ≤ tol, where equal infinities count as equal and NaN never passes. */
export function within(actual: number, expected: number, tol: number): boolean {
  if (Number.isNaN(actual) || Number.isNaN(expected)) return false;
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= tol;
}
