/**
 * The partial of a class range from the partials of its consecutive
 * sub-ranges: the blocks one shard computes separately, and the ranges the
 * gateway fans out to. One combine for both, so a blocked shard answers
 * exactly what an unblocked one would and the gateway's merge is the same
 * rule one level up. Each statistic of PARTIAL_COLUMNS merges by its rule:
 *
 *   log-sum-exp   M = max_j m_j,   S = Σ_j S_j · exp(m_j − M)
 *   top-k         k-way merge of the parts' sorted lists
 *   targets       each target from the one part that owns it, in the order asked
 *   draws         per draw, the record chain of the union (sample-records.ts)
 *   mass points   log Σ_j exp(massBefore_j)
 *   mass grids    log Σ_j exp per grid point (sample-grid.ts)
 *
 * Targets travel flat (per-row counts, ids row by row); `routeFlatTargets`
 * splits them by owning part and `owners` puts them back in order.
 */

import { combineGrids, GRID_POINTS } from "../sampling/sample-grid.js";
import { mergeRecordChains } from "../sampling/sample-records.js";
import { type BatchPartial, unitOffsets } from "./partial.js";
import { mergeTopK, type SortedRun } from "./topk-merge.js";

export interface FlatTargets {
  /** Per row, how many ids. */
  readonly counts: Uint32Array;
  /** Global class ids, row by row. */
  readonly ids: Uint32Array;
}

export interface RoutedFlat {
  /** What each part owns, in the order asked. */
  readonly perPart: FlatTargets[];
  /** For each id of the input, in order, the index of the part owning it. */
  readonly owners: Uint32Array;
}

export function routeFlatTargets(targets: FlatTargets, parts: number, ownerOf: (id: number) => number): RoutedFlat {
  const rows = targets.counts.length;
  const owners = new Uint32Array(targets.ids.length);
  const counts = Array.from({ length: parts }, () => new Uint32Array(rows));
  let next = 0;
  for (let row = 0; row < rows; row++) {
    for (let j = 0; j < targets.counts[row]!; j++, next++) {
      const owner = ownerOf(targets.ids[next]!);
      owners[next] = owner;
      counts[owner]![row]!++;
    }
  }
  const ids = counts.map((c) => new Uint32Array(c.reduce((a, b) => a + b, 0)));
  const fill = new Uint32Array(parts);
  owners.forEach((owner, i) => (ids[owner]![fill[owner]!++] = targets.ids[i]!));
  return { perPart: counts.map((c, p) => ({ counts: c, ids: ids[p]! })), owners };
}

/** `parts[j]` answers the j-th sub-range; `owners` is `routeFlatTargets(…).owners`; k is already clamped to the range. */
export function combinePartials(parts: readonly BatchPartial[], k: number, owners: ArrayLike<number>): BatchPartial {
  if (parts.length === 1) return parts[0]!;
  const rows = parts[0]!.rows;
  const { max, sumExp } = combineLogSumExpColumns(parts, rows);
  const { topIds, topLogits, k: kOut } = combineTop(parts, rows, k);
  const draws = mergeRecordChains(parts);
  return {
    rows,
    k: kOut,
    max,
    sumExp,
    topIds,
    topLogits,
    ...combineTargets(parts, rows, owners),
    drawCounts: parts[0]!.drawCounts,
    ...draws,
    pointCounts: parts[0]!.pointCounts,
    massBefore: combineMass(parts),
    ...combineGridColumns(parts, rows),
  };
}

function combineLogSumExpColumns(parts: readonly BatchPartial[], rows: number): { max: Float64Array; sumExp: Float64Array } {
  const max = new Float64Array(rows);
  const sumExp = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let m = -Infinity;
    for (const p of parts) if (p.max[row]! > m) m = p.max[row]!;
    let s = 0;
    // A part whose classes are all −∞ holds no mass (and exp(−∞ − (−∞)) would be NaN).
    if (m !== -Infinity) for (const p of parts) if (p.max[row] !== -Infinity) s += p.sumExp[row]! * Math.exp(p.max[row]! - m);
    max[row] = m;
    sumExp[row] = s;
  }
  return { max, sumExp };
}

function combineTop(parts: readonly BatchPartial[], rows: number, k: number): { topIds: Uint32Array; topLogits: Float32Array; k: number } {
  const kOut = Math.min(
    k,
    parts.reduce((n, p) => n + p.k, 0),
  );
  const topIds = new Uint32Array(rows * kOut);
  const topLogits = new Float32Array(rows * kOut);
  for (let row = 0; row < rows; row++) {
    const runs: SortedRun[] = parts.map((p) => ({ ids: p.topIds, logits: p.topLogits, offset: row * p.k, count: p.k }));
    mergeTopK(runs, kOut).forEach((entry, j) => {
      topIds[row * kOut + j] = entry.id;
      topLogits[row * kOut + j] = entry.logit;
    });
  }
  return { topIds, topLogits, k: kOut };
}

function combineTargets(parts: readonly BatchPartial[], rows: number, owners: ArrayLike<number>): { targetCounts: Uint32Array; targetLogits: Float32Array } {
  const targetCounts = new Uint32Array(rows);
  for (const p of parts) for (let row = 0; row < rows; row++) targetCounts[row]! += p.targetCounts[row]!;
  const targetLogits = new Float32Array(owners.length);
  const cursor = new Uint32Array(parts.length);
  for (let i = 0; i < owners.length; i++) {
    const owner = owners[i]!;
    targetLogits[i] = parts[owner]!.targetLogits[cursor[owner]!++]!;
  }
  return { targetCounts, targetLogits };
}

/** Rows with a mass grid in every part get the grid of the union; a row some part left without one gets none. */
function combineGridColumns(parts: readonly BatchPartial[], rows: number): { gridCounts: Uint32Array; gridMass: Float64Array } {
  if (parts.every((p) => p.gridMass.length === 0)) return { gridCounts: new Uint32Array(rows), gridMass: new Float64Array(0) };
  const offsets = parts.map((p) => unitOffsets(p).grid);
  const gridCounts = new Uint32Array(rows);
  const grids: Float64Array[] = [];
  for (let row = 0; row < rows; row++) {
    if (!parts.every((p) => p.gridCounts[row] === GRID_POINTS + 1)) continue;
    grids.push(combineGrids(parts.map((p, j) => p.gridMass.subarray(offsets[j]![row]!, offsets[j]![row + 1]!))));
    gridCounts[row] = GRID_POINTS + 1;
  }
  const gridMass = new Float64Array(grids.length * (GRID_POINTS + 1));
  grids.forEach((g, i) => gridMass.set(g, i * (GRID_POINTS + 1)));
  return { gridCounts, gridMass };
}

/** log Σ exp over parts, per point; every part answers the same points. */
function combineMass(parts: readonly BatchPartial[]): Float64Array {
  const out = new Float64Array(parts[0]!.massBefore.length);
  for (let i = 0; i < out.length; i++) {
    let m = -Infinity;
    for (const p of parts) if (p.massBefore[i]! > m) m = p.massBefore[i]!;
    if (m === -Infinity) {
      out[i] = -Infinity;
      continue;
    }
    let s = 0;
    for (const p of parts) s += Math.exp(p.massBefore[i]! - m);
    out[i] = m + Math.log(s);
  }
  return out;
}
