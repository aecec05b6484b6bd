/**
 * The mass grid of a top-p row: how the gateway decides, without a second
 * round, most records that lie past the merged candidates.
 *
 * Grid points are the global logits g_k = k·STEP. A part reports, for the
 * GRID_POINTS points from the one just below its max downwards, the log of
 * Σ exp z_i over its classes with z_i ≥ g_k (TOP_P_REACH nats in all, as far
 * as a nucleus can reach). Grids of parts combine by log-add-exp point by
 * point (a part has no mass above its max), the one combine again. For a
 * record at logit z with g_a ≤ z < g_a + STEP, the mass before it in class
 * order lies between the mass at or above g_{a+1} and the mass at or above
 * g_a: when the nucleus target is outside that bracket, the record is decided
 * exactly; only a record in the very cell where the nucleus ends needs the
 * second round. One pass and one exp per class per top-p row; 8·(GRID_POINTS + 1)
 * bytes per row on the wire.
 */
export const GRID_STEP = 1 / 8;
/** Nats below a part's max that any nucleus can reach (part-draws.ts). */
export const TOP_P_REACH = 64;
export const GRID_POINTS = TOP_P_REACH / GRID_STEP;

/**
 * [top index, log-mass at or above each of GRID_POINTS points downwards] of
 * one part's row. `weights`, when given, are exp(z − max) already computed
 * (a shard passes onnxruntime's softmax over the part, scaled by 1 / p[argmax]):
 * one add per class instead of one exp.
 */
export function partGrid(logits: Float32Array, max: number, weights?: { probs: Float32Array; scale: number }): Float64Array {
  const out = new Float64Array(GRID_POINTS + 1).fill(-Infinity);
  if (max === -Infinity) {
    out[0] = -Infinity;
    return out;
  }
  const top = Math.floor(max / GRID_STEP);
  out[0] = top;
  const buckets = new Float64Array(GRID_POINTS);
  const perNat = 1 / GRID_STEP; // a power of two: z · perNat is exact
  if (weights) {
    const probs = weights.probs;
    for (let i = 0; i < logits.length; i++) {
      const b = top - Math.floor(logits[i]! * perNat);
      if (b < GRID_POINTS) buckets[b]! += probs[i]!;
    }
  } else {
    for (let i = 0; i < logits.length; i++) {
      const z = logits[i]!;
      const b = top - Math.floor(z * perNat);
      if (b < GRID_POINTS) buckets[b]! += Math.exp(z - max);
    }
  }
  let sum = 0;
  const scale = weights ? weights.scale : 1;
  for (let b = 0; b < GRID_POINTS; b++) {
    sum += buckets[b]! * scale;
    out[b + 1] = sum === 0 ? -Infinity : max + Math.log(sum);
  }
  return out;
}

/** The grid of the union of parts' grids. */
export function combineGrids(grids: readonly Float64Array[]): Float64Array {
  const live = grids.filter((g) => g[0] !== -Infinity);
  const out = new Float64Array(GRID_POINTS + 1).fill(-Infinity);
  if (live.length === 0) return out;
  const top = Math.max(...live.map((g) => g[0]!));
  out[0] = top;
  for (let b = 0; b < GRID_POINTS; b++) {
    let m = -Infinity;
    const values: number[] = [];
    for (const g of live) {
      // Part index of the same grid point; above the part's top it has no mass.
      const at = b - (top - g[0]!);
      const v = at < 0 ? -Infinity : g[at + 1]!;
      values.push(v);
      if (v > m) m = v;
    }
    if (m === -Infinity) continue;
    let s = 0;
    for (const v of values) s += Math.exp(v - m);
    out[b + 1] = m + Math.log(s);
  }
  return out;
}

/**
 * Bounds on the log-mass before a record at `logit` in class order, from a
 * row's grid: [log-mass at or above the point above it, log-mass at or above
 * the point at or below it]; null where the grid does not reach.
 */
export function massBracket(grid: ArrayLike<number>, logit: number): { low: number; high: number } | null {
  const top = grid[0]!;
  if (top === -Infinity) return null;
  const below = Math.floor(logit / GRID_STEP);
  const b = top - below;
  if (b >= GRID_POINTS) return null;
  const high = b < 0 ? grid[GRID_POINTS]! : grid[b + 1]!;
  const low = b - 1 < 0 ? -Infinity : grid[b]!;
  return { low, high };
}
