/**
 * Exact sampling at the gateway: the `sample` part of a query checked, the
 * per-row seeds and options it puts on the Partial, and the draws picked from
 * the merged record chains (shared/sampling/), with top-p's second round when
 * a draw's nucleus reaches past the merged candidates.
 *
 * Rounds: unrestricted draws, top-k, min-p, and top-p whose records the
 * merged candidates and mass grid decide take the query's one round to the
 * shards. A top-p draw with a record in the grid cell where its nucleus ends
 * asks the shards, in one more round for those rows only, the mass before
 * each such record; that decides every record, so there is never a third.
 */
import { randomBytes } from "node:crypto";
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import { logZOf } from "../../shared/math/merge.js";
import { type BatchPartial, unitOffsets } from "../../shared/math/partial.js";
import { defaultOptions, type RowOptions } from "../../shared/math/row-options.js";
import type { SampledClass } from "../../shared/results.js";
import { isSeed, MAX_SEED } from "../../shared/sampling/gumbel.js";
import { chainAt, type DrawRecord, recordStarts } from "../../shared/sampling/sample-records.js";
import { pick, RowRestriction } from "../../shared/sampling/sample-select.js";

/** `sample` as a client sends it. */
export interface SampleRequest {
  n: number;
  /** One integer for the whole request (row r uses seed + r), one per row, or none (the gateway picks). */
  seed?: number | number[];
  topK?: number;
  topP?: number;
  minP?: number;
}

/**
 * Candidates asked of each shard for a top-p row: records among them are decided by exact prefix
 * sums, the rest by the mass grid; more candidates cost every shard a larger TopK.
 */
export const TOP_P_CANDIDATES = 16;

export function checkSample(sample: SampleRequest, rows: number, limits: { maxDraws: number; maxTopK: number }, vocabSize: number): void {
  const { n, seed, topK, topP, minP } = sample;
  if (!Number.isInteger(n) || n < 1 || n > limits.maxDraws)
    throw invalidField("sample.n", `must be an integer from 1 to ${limits.maxDraws} (--max-draws), got ${n}`);
  const seedRule = `must be an integer from 0 to ${MAX_SEED}`;
  if (Array.isArray(seed)) {
    if (seed.length !== rows) throw invalidField("sample.seed", `must be one seed per row: ${seed.length} seeds for ${rows} rows`);
    seed.forEach((s, r) => {
      if (!isSeed(s)) throw invalidField(`sample.seed[${r}]`, `${seedRule}, got ${s}`);
    });
  } else if (seed !== undefined && !isSeed(seed)) throw invalidField("sample.seed", `${seedRule} or an array of one per row, got ${seed}`);
  const maxK = Math.min(vocabSize, limits.maxTopK);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > maxK))
    throw invalidField("sample.topK", `must be an integer from 1 to ${maxK}, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) throw invalidField("sample.topP", `must be in (0, 1], got ${topP}`);
  if (minP !== undefined && !(minP >= 0 && minP < 1)) throw invalidField("sample.minP", `must be in [0, 1), got ${minP}`);
}

/** Row r's seed: the array's, or (seed + r) mod 2^53, from a seed the gateway draws when none was sent. */
export function rowSeeds(sample: SampleRequest, rows: number): number[] {
  if (Array.isArray(sample.seed)) return sample.seed;
  const base = sample.seed ?? randomSeed();
  // seed + r can pass 2^53 − 1 only for seeds near the top; it wraps without ever leaving exact integers.
  return Array.from({ length: rows }, (_, r) => (r <= MAX_SEED - base ? base + r : r - (MAX_SEED - base) - 1));
}

function randomSeed(): number {
  const bytes = randomBytes(8);
  return (bytes.readUInt32LE(0) & 0x1fffff) * 2 ** 32 + bytes.readUInt32LE(4);
}

/** The top-k to ask of the shards so the sample can be picked: the restriction's K, and candidates for top-p. */
export function candidatesFor(sample: SampleRequest | undefined): number {
  if (!sample) return 0;
  const topP = sample.topP !== undefined && sample.topP < 1 ? TOP_P_CANDIDATES : 0;
  return Math.max(sample.topK ?? 0, topP);
}

/** The per-row options of round one. */
export function sampleOptions(rows: number, temperature: number, sample: SampleRequest | undefined, seeds: number[]): RowOptions {
  const per = <T extends Float64Array | Uint32Array>(make: (n: number) => T, value: number) => make(rows).fill(value) as T;
  const options = { ...defaultOptions() };
  if (temperature !== 1) options.temperatures = per((n) => new Float64Array(n), temperature);
  if (!sample) return options;
  return {
    ...options,
    drawCounts: per((n) => new Uint32Array(n), sample.n),
    seeds: Float64Array.from(seeds),
    sampleTopK: per((n) => new Uint32Array(n), sample.topK ?? 0),
    topP: per((n) => new Float64Array(n), sample.topP ?? 0),
    minP: per((n) => new Float64Array(n), sample.minP ?? 0),
  };
}

/** Asks, for some rows, the mass before points: the second round of top-p. Resolves to log-masses, point by point. */
export type MassRound = (rows: number[], points: DrawRecord[][]) => Promise<Float64Array>;

/** Every row's draws from the whole-vocabulary partial of round one; `massRound` only for top-p rows that need it. */
export async function pickSamples(whole: BatchPartial, sample: SampleRequest, massRound: MassRound): Promise<SampledClass[][]> {
  const starts = recordStarts(whole);
  const grids = unitOffsets(whole).grid;
  const restrictions = { topK: sample.topK ?? 0, topP: sample.topP ?? 0, minP: sample.minP ?? 0 };
  const rows: { restriction: RowRestriction; chains: DrawRecord[][]; logZ: number }[] = [];
  let draw = 0;
  for (let row = 0; row < whole.rows; row++) {
    const logZ = logZOf(whole, row);
    if (logZ === -Infinity) throw invalidField(`hidden[${row}]`, "every class has probability 0 (all logits are −∞): there is nothing to sample");
    const top = {
      logZ,
      max: whole.max[row]!,
      topIds: whole.topIds.subarray(row * whole.k),
      topLogits: whole.topLogits.subarray(row * whole.k),
      topCount: whole.k,
    };
    const grid = whole.gridCounts[row]! > 0 ? { grid: whole.gridMass.subarray(grids[row]!, grids[row + 1]!) } : {};
    const chains: DrawRecord[][] = [];
    for (let j = 0; j < whole.drawCounts[row]!; j++) chains.push(chainAt(whole, starts, draw++));
    rows.push({ restriction: new RowRestriction({ ...top, ...grid }, restrictions), chains, logZ });
  }
  const asked = new Map<string, number>();
  const pointKey = (row: number, r: DrawRecord) => `${row}:${r.id}`;
  const firstPass = rows.map(({ restriction, chains }) => chains.map((chain) => pick(chain, restriction)));
  const pendingRows: number[] = [];
  const pendingPoints: DrawRecord[][] = [];
  firstPass.forEach((picks, row) => {
    const points = new Map<number, DrawRecord>();
    for (const p of picks) if (p && "pending" in p) for (const r of p.pending) points.set(r.id, r);
    if (points.size === 0) return;
    pendingRows.push(row);
    pendingPoints.push([...points.values()]);
  });
  if (pendingRows.length > 0) {
    const masses = await massRound(pendingRows, pendingPoints);
    let at = 0;
    pendingRows.forEach((row, i) => {
      for (const r of pendingPoints[i]!) asked.set(pointKey(row, r), masses[at++]!);
    });
  }
  return rows.map(({ restriction, chains, logZ }, row) =>
    chains.map((chain) => {
      const chosen = pick(chain, restriction, (r) => asked.get(pointKey(row, r)));
      if (!chosen || "pending" in chosen) throw new ShardmaxError("INTERNAL", `sampling: row ${row} has a draw the merged chains do not decide`);
      return { id: chosen.id, logit: chosen.logit, logprob: chosen.logit - logZ };
    }),
  );
}

/** Round two's options: the points of each asked row (temperatures kept, no draws). */
export function massOptions(temperatures: Float64Array, points: DrawRecord[][]): RowOptions {
  const flat = points.flat();
  return {
    ...defaultOptions(),
    temperatures,
    pointCounts: Uint32Array.from(points, (p) => p.length),
    pointLogits: Float32Array.from(flat, (r) => r.logit),
    pointIds: Uint32Array.from(flat, (r) => r.id),
  };
}
