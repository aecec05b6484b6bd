/**
 * What a Partial request asks per row besides its hidden row and targets,
 * declared once like the partial's columns (partial.ts): temperature and the
 * sampling parameters travel per row, so queries with different options
 * share one batch at the gateway and at the shard. A column sent empty means
 * every row takes the default, so a plain query carries none of them.
 */
import { type ArrayOf, type Dtype, newColumn } from "./partial.js";

export const ROW_OPTIONS = {
  /** T > 0 per row. */
  temperatures: { dtype: "f64", unit: "row", fallback: 1 },
  /** Gumbel-max draws per row (0: none). */
  drawCounts: { dtype: "u32", unit: "row", fallback: 0 },
  /** Integer seed per row, 0 … 2^53 − 1. */
  seeds: { dtype: "f64", unit: "row", fallback: 0 },
  /** Restrictions, which set how far down class order a shard's record chains reach (0: none; topP 0 or 1: none). */
  sampleTopK: { dtype: "u32", unit: "row", fallback: 0 },
  topP: { dtype: "f64", unit: "row", fallback: 0 },
  minP: { dtype: "f64", unit: "row", fallback: 0 },
  /** Per row, points (logit, id) of class order whose mass before them is asked (top-p's second round). */
  pointCounts: { dtype: "u32", unit: "row", fallback: 0 },
  pointLogits: { dtype: "f32", unit: "point", fallback: 0 },
  pointIds: { dtype: "u32", unit: "point", fallback: 0 },
} as const satisfies Record<string, { dtype: Dtype; unit: "row" | "point"; fallback: number }>;

export type OptionName = keyof typeof ROW_OPTIONS;
export const OPTION_NAMES = Object.keys(ROW_OPTIONS) as OptionName[];
export type RowOptions = { readonly [N in OptionName]: ArrayOf<(typeof ROW_OPTIONS)[N]["dtype"]> };

/** Every option at its default: all columns empty. */
export function defaultOptions(): RowOptions {
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) out[name] = newColumn(ROW_OPTIONS[name].dtype, 0);
  return out as RowOptions;
}

/** Row r's value of a row option, honouring an empty column. */
export function optionAt(options: RowOptions, name: OptionName, row: number): number {
  const column = options[name];
  return column.length === 0 ? ROW_OPTIONS[name].fallback : column[row]!;
}

/** The same options with a per-row column filled in, for `rows` rows. */
export function filled(options: RowOptions, name: OptionName, rows: number): ArrayOf<Dtype> {
  const column = options[name];
  if (column.length > 0) return column;
  return newColumn(ROW_OPTIONS[name].dtype, rows).fill(ROW_OPTIONS[name].fallback);
}

function pointStarts(options: RowOptions, rows: number): Uint32Array {
  const starts = new Uint32Array(rows + 1);
  for (let r = 0; r < rows; r++) starts[r + 1] = starts[r]! + optionAt(options, "pointCounts", r);
  return starts;
}

/** Rows [row, row + n) of options for `rows` rows. */
export function sliceOptions(options: RowOptions, rows: number, row: number, n: number): RowOptions {
  const points = pointStarts(options, rows);
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const column = options[name];
    if (column.length === 0) out[name] = column;
    else if (ROW_OPTIONS[name].unit === "row") out[name] = column.slice(row, row + n);
    else out[name] = column.slice(points[row]!, points[row + n]!);
  }
  return out as RowOptions;
}

/** The options of consecutive row groups, put together; `rows[i]` is how many rows `parts[i]` has. */
export function joinOptions(parts: readonly RowOptions[], rows: readonly number[]): RowOptions {
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const { dtype, unit } = ROW_OPTIONS[name];
    if (parts.every((p) => p[name].length === 0)) {
      out[name] = newColumn(dtype, 0);
      continue;
    }
    const pieces = parts.map((p, i) => (unit === "row" ? filled(p, name, rows[i]!) : p[name]));
    const joined = newColumn(
      dtype,
      pieces.reduce((n, a) => n + a.length, 0),
    );
    let at = 0;
    for (const piece of pieces) {
      joined.set(piece as never, at);
      at += piece.length;
    }
    out[name] = joined;
  }
  return out as RowOptions;
}

/** Whether any row samples under top-p (the shard then builds its mass grid, sample-grid.ts). */
export function needsGrid(options: RowOptions): boolean {
  return options.drawCounts.some((n, r) => n > 0 && optionAt(options, "topP", r) > 0 && optionAt(options, "topP", r) < 1);
}

/** Whether any row asks for draws or mass points (the shard then fetches its logits). */
export function needsLogits(options: RowOptions): boolean {
  return options.drawCounts.some((n) => n > 0) || options.pointCounts.some((n) => n > 0);
}
