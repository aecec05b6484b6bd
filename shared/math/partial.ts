/**
 * The partial of one shard: what a shard owning classes `[start, end)` sends
 * back per row instead of its logits. Communication is O(k + targets + draws)
 * numbers per row and shard, against O(V_s) for gathering the logits.
 *
 *   z_i = (W_i · h + b_i) / T
 *   m_s = max_i z_i,   S_s = Σ_i exp(z_i − m_s),   top_s = k largest (i, z_i)
 *
 * The per-row statistics are declared once, in PARTIAL_COLUMNS: each column's
 * dtype and the unit that sets its width per row. That declaration drives the
 * wire codec (shared/grpc/partial-codec.ts), cutting rows out of a batch and
 * joining them (partial-slice.ts); how each statistic merges is declared beside
 * it in combine-partials.ts, the one combine for a shard's blocks and for the
 * gateway's ranges. A new statistic is: its columns here, its rule there, and
 * the shard graph that computes it.
 *
 * `partialOfLogits` is the top-k/log-sum-exp contract in plain float64 code,
 * used where logits are already at hand (the gather-all baseline) and as the
 * executable statement of the contract.
 */

export type Dtype = "f64" | "f32" | "u32";

/**
 * What sets a column's width in a row:
 * row — one value; top — k (the partial's top-k); target / draw / point / grid —
 * the row's count in targetCounts / drawCounts / pointCounts / gridCounts;
 * record — the sum of drawRecords over the row's draws.
 */
export type Unit = "row" | "top" | "target" | "draw" | "record" | "point" | "grid";

export const PARTIAL_COLUMNS = {
  /** Local max of the scaled logits; −∞ when every class is −∞. */
  max: { dtype: "f64", unit: "row" },
  /** Σ exp(z − max), in [1, V_s]; 0 when max is −∞. */
  sumExp: { dtype: "f64", unit: "row" },
  /** The k best (id, logit), best first, ties by smaller id. */
  topIds: { dtype: "u32", unit: "top" },
  topLogits: { dtype: "f32", unit: "top" },
  /** Per row, how many targets this partial answers (the ids stay with the caller). */
  targetCounts: { dtype: "u32", unit: "row" },
  /** Logits of the targets owned, in the order asked. */
  targetLogits: { dtype: "f32", unit: "target" },
  /** Per row, Gumbel-max draws answered. */
  drawCounts: { dtype: "u32", unit: "row" },
  /** Per draw, the length of its record chain (sample-records.ts). */
  drawRecords: { dtype: "u32", unit: "draw" },
  /** The chains, draw after draw, each in class order (best logit first). */
  recordIds: { dtype: "u32", unit: "record" },
  recordLogits: { dtype: "f32", unit: "record" },
  /** z + G of each record, float64. */
  recordKeys: { dtype: "f64", unit: "record" },
  /** Per row, how many mass points were asked (top-p's second round). */
  pointCounts: { dtype: "u32", unit: "row" },
  /** log Σ exp(z_i) over the classes before each point in class order; −∞ for none. */
  massBefore: { dtype: "f64", unit: "point" },
  /** Per row, the length of its mass grid (top-p rows: sample-grid.ts), else 0. */
  gridCounts: { dtype: "u32", unit: "row" },
  /** Per row with a grid: its top grid index, then log Σ exp z over the classes at or above each grid point, downwards. */
  gridMass: { dtype: "f64", unit: "grid" },
} as const satisfies Record<string, { dtype: Dtype; unit: Unit }>;

export type ColumnName = keyof typeof PARTIAL_COLUMNS;
export const COLUMN_NAMES = Object.keys(PARTIAL_COLUMNS) as ColumnName[];

export type ArrayOf<D extends Dtype> = D extends "f64" ? Float64Array : D extends "f32" ? Float32Array : Uint32Array;
export type PartialColumns = { readonly [N in ColumnName]: ArrayOf<(typeof PARTIAL_COLUMNS)[N]["dtype"]> };

/** Partials of one shard for a batch of rows, columnar as they travel. */
export interface BatchPartial extends PartialColumns {
  readonly rows: number;
  /** Entries per row in `topIds` / `topLogits`: min(requested k, shard size). */
  readonly k: number;
}

export function newColumn<D extends Dtype>(dtype: D, length: number): ArrayOf<D> {
  if (dtype === "f64") return new Float64Array(length) as ArrayOf<D>;
  if (dtype === "f32") return new Float32Array(length) as ArrayOf<D>;
  return new Uint32Array(length) as ArrayOf<D>;
}

/** Empty columns are never written to, so one per dtype serves every partial. */
const EMPTY = { f64: new Float64Array(0), f32: new Float32Array(0), u32: new Uint32Array(0) } as const;

/** A partial from the columns given; the others are zero counts and empty lists (no targets, draws or points). */
export function partialFrom(fields: { rows: number; k: number } & Partial<PartialColumns>): BatchPartial {
  const out: Record<string, unknown> = { rows: fields.rows, k: fields.k };
  for (const name of COLUMN_NAMES) {
    const spec = PARTIAL_COLUMNS[name];
    out[name] = fields[name] ?? (spec.unit === "row" ? newColumn(spec.dtype, fields.rows) : EMPTY[spec.dtype]);
  }
  return out as unknown as BatchPartial;
}

/**
 * Row offsets of every unit: `offsets[unit][r]` is where row r starts in a
 * column of that unit; rows + 1 entries.
 */
export function unitOffsets(p: BatchPartial): Record<Unit, Uint32Array> {
  const rows = p.rows;
  const per = (width: (r: number) => number) => {
    const out = new Uint32Array(rows + 1);
    for (let r = 0; r < rows; r++) out[r + 1] = out[r]! + width(r);
    return out;
  };
  const draw = per((r) => p.drawCounts[r]!);
  const record = new Uint32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let d = draw[r]!; d < draw[r + 1]!; d++) n += p.drawRecords[d]!;
    record[r + 1] = record[r]! + n;
  }
  return {
    row: per(() => 1),
    top: per(() => p.k),
    target: per((r) => p.targetCounts[r]!),
    draw,
    record,
    point: per((r) => p.pointCounts[r]!),
    grid: per((r) => p.gridCounts[r]!),
  };
}

/** Scaled logit: temperature divides the logit, so T < 1 sharpens and T > 1 flattens. */
export function scaleLogit(logit: number, temperature: number): number {
  return logit / temperature;
}

/** Orders (id, logit) pairs best first: larger logit, then smaller id. */
export function comesBefore(logitA: number, idA: number, logitB: number, idB: number): boolean {
  return logitA > logitB || (logitA === logitB && idA < idB);
}

/**
 * Reference partial of one row of already scaled logits owned from `start`.
 * O(V_s · log k); not on the serving hot path.
 */
export function partialOfLogits(
  logits: ArrayLike<number>,
  start: number,
  k: number,
  targets: readonly number[] = [],
): { max: number; sumExp: number; top: { id: number; logit: number }[]; targetLogits: number[] } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sumExp = 0;
  if (max !== -Infinity) for (let i = 0; i < logits.length; i++) sumExp += Math.exp(logits[i]! - max);
  const order = Array.from({ length: logits.length }, (_, i) => i);
  order.sort((a, b) => (comesBefore(logits[a]!, a, logits[b]!, b) ? -1 : 1));
  const top = order.slice(0, Math.min(k, logits.length)).map((i) => ({ id: start + i, logit: logits[i]! }));
  const targetLogits = targets.map((t) => logits[t - start]!);
  return { max, sumExp, top, targetLogits };
}
