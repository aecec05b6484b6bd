/**
 * The sampling statistics of one part (a shard's block) for a batch, from
 * its logits: per draw a record chain (sample-records.ts), per asked point
 * the log-mass of the part's classes before it in class order.
 *
 * How far down class order a chain must reach depends on the row's
 * restrictions, and the part may reach further (any superset of the allowed
 * classes gives the same sample): unrestricted draws need only the argmax;
 * top-k needs the part's own top K (the global top K of a part lie in it);
 * min-p the classes with z ≥ m + log minP for the part's max m ≤ the global
 * max; top-p the classes within TOP_P_REACH of m, below which no class of any
 * row can be in a nucleus (its mass before is ≥ 1 − V·e^−64 > any p < 1).
 */
import { comesBefore, type PartialColumns } from "../math/partial.js";
import { optionAt, type RowOptions } from "../math/row-options.js";
import { GRID_POINTS, partGrid, TOP_P_REACH } from "./sample-grid.js";
import type { DrawRecord } from "./sample-records.js";
import { CHUNK, groupsFromChunks, maximaOf, NO_LIMIT, type OrderLimit, scanChain } from "./sample-scan.js";

/** Slack below m + log minP, so float rounding of that sum never drops a class the gateway keeps. */
const MIN_P_SLACK = 1e-3;

export interface PartLogits {
  rows: number;
  /** Global id of the part's first class. */
  start: number;
  /** Classes of the part. */
  size: number;
  /** [rows, stride] float32; row r's classes at [r·stride, r·stride + size). */
  logits: Float32Array;
  stride: number;
  /** The part's top list per row (global ids, class order), k per row. */
  topIds: Uint32Array;
  topLogits: Float32Array;
  k: number;
  /** The part's max per row. */
  max: Float64Array;
  /** Each row's mass grid when the caller already has it (a shard: its blocks' grids combined), else computed here. */
  grids?: (Float64Array | undefined)[];
  /** [rows, chunks] best logit per aligned chunk of CHUNK global ids, when the caller already has them (else computed here). */
  chunkMaxima?: Float32Array;
}

type SamplingColumns = Pick<
  PartialColumns,
  "drawCounts" | "drawRecords" | "recordIds" | "recordLogits" | "recordKeys" | "pointCounts" | "massBefore" | "gridCounts" | "gridMass"
>;

export function partSampling(part: PartLogits, options: RowOptions): SamplingColumns {
  const { rows } = part;
  const drawCounts = new Uint32Array(rows);
  const pointCounts = new Uint32Array(rows);
  const gridCounts = new Uint32Array(rows);
  const grids: Float64Array[] = [];
  const chains: DrawRecord[][] = [];
  const mass: number[] = [];
  let point = 0;
  for (let row = 0; row < rows; row++) {
    const logits = part.logits.subarray(row * part.stride, row * part.stride + part.size);
    const draws = optionAt(options, "drawCounts", row);
    drawCounts[row] = draws;
    if (draws > 0) {
      const { limit, chained } = reach(part, options, row);
      const partRow = {
        logits,
        start: part.start,
        topIds: part.topIds.subarray(row * part.k),
        topLogits: part.topLogits.subarray(row * part.k),
        topCount: part.k,
      };
      const chunkCount = Math.floor((part.start + part.size - 1) / CHUNK) - Math.floor(part.start / CHUNK) + 1;
      const chunks = part.chunkMaxima ? part.chunkMaxima.subarray(row * chunkCount, (row + 1) * chunkCount) : maximaOf(partRow, CHUNK);
      const maxima = groupsFromChunks(chunks, part.start, part.size);
      Object.assign(partRow, { chunks });
      const seed = optionAt(options, "seeds", row);
      for (let j = 0; j < draws; j++) chains.push(scanChain(partRow, maxima, seed, j, limit, chained));
      const topP = optionAt(options, "topP", row);
      if (topP > 0 && topP < 1) {
        grids.push(part.grids?.[row] ?? partGrid(logits, part.max[row]!));
        gridCounts[row] = GRID_POINTS + 1;
      }
    }
    const points = optionAt(options, "pointCounts", row);
    pointCounts[row] = points;
    for (let q = 0; q < points; q++, point++)
      mass.push(logMassBefore(logits, part.start, part.max[row]!, options.pointLogits[point]!, options.pointIds[point]!));
  }
  const drawRecords = Uint32Array.from(chains, (c) => c.length);
  const records = chains.flat();
  return {
    drawCounts,
    drawRecords,
    recordIds: Uint32Array.from(records, (r) => r.id),
    recordLogits: Float32Array.from(records, (r) => r.logit),
    recordKeys: Float64Array.from(records, (r) => r.key),
    pointCounts,
    massBefore: Float64Array.from(mass),
    gridCounts,
    gridMass: concatGrids(grids),
  };
}

function concatGrids(grids: Float64Array[]): Float64Array {
  const out = new Float64Array(grids.length * (GRID_POINTS + 1));
  grids.forEach((g, i) => out.set(g, i * (GRID_POINTS + 1)));
  return out;
}

/** How far down class order row `row`'s chains must reach in this part. */
function reach(part: PartLogits, options: RowOptions, row: number): { limit: OrderLimit; chained: boolean } {
  const topK = optionAt(options, "sampleTopK", row);
  const topP = optionAt(options, "topP", row);
  const minP = optionAt(options, "minP", row);
  const restricted = topK > 0 || (topP > 0 && topP < 1) || minP > 0;
  if (!restricted) return { limit: NO_LIMIT, chained: false };
  const m = part.max[row]!;
  const limits: OrderLimit[] = [NO_LIMIT];
  if (topK > 0 && topK <= part.k) limits.push({ logit: part.topLogits[row * part.k + topK - 1]!, id: part.topIds[row * part.k + topK - 1]! });
  if (minP > 0) limits.push({ logit: m + Math.log(minP) - MIN_P_SLACK, id: NO_LIMIT.id });
  if (topP > 0 && topP < 1) limits.push({ logit: m - TOP_P_REACH, id: NO_LIMIT.id });
  // The intersection of prefixes is the shortest: the limit that comes first in class order.
  const limit = limits.reduce((a, b) => (comesBefore(b.logit, b.id, a.logit, a.id) ? b : a));
  return { limit, chained: true };
}

/** log Σ exp z_i over the part's classes before (logit, id) in class order; −∞ for none. */
function logMassBefore(logits: Float32Array, start: number, max: number, logit: number, id: number): number {
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i]!;
    if (z > logit || (z === logit && start + i < id)) sum += Math.exp(z - max);
  }
  return sum === 0 ? -Infinity : max + Math.log(sum);
}
