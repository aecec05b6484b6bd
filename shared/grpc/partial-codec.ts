/**
 * PartialRequest options and PartialResponse statistics on the wire: every
 * column declared in PARTIAL_COLUMNS / ROW_OPTIONS is one `bytes` field of the
 * same name (snake_case in the .proto), so encoding and decoding are driven
 * by the declarations. Count columns that are all zero travel empty.
 */
import { invalidField, ShardmaxError } from "../errors.js";
import { type BatchPartial, COLUMN_NAMES, type ColumnName, type Dtype, PARTIAL_COLUMNS, partialFrom, unitOffsets } from "../math/partial.js";
import { OPTION_NAMES, type OptionName, optionAt, ROW_OPTIONS, type RowOptions } from "../math/row-options.js";
import { float32From, float64From, toBytes, uint32From } from "../tensor-bytes.js";

type Bytes = Uint8Array;

/** The columns as message fields: the generated message types must match the declarations, field for field. */
export type PartialColumnFields = { rows: number; k: number } & { [N in ColumnName]?: Bytes };
export type RowOptionFields = { [N in OptionName]?: Bytes };

function decodeColumn(dtype: Dtype, bytes: Bytes | undefined, field: string): Float64Array | Float32Array | Uint32Array {
  const raw = bytes ?? new Uint8Array(0);
  if (dtype === "f64") return float64From(raw, field);
  if (dtype === "f32") return float32From(raw, field);
  return uint32From(raw, field);
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The statistics of a partial as PartialResponse fields. */
export function encodePartialColumns(p: BatchPartial): { [N in ColumnName]: Buffer } {
  const out = {} as { [N in ColumnName]: Buffer };
  for (const name of COLUMN_NAMES) {
    const column = p[name];
    const empty = name.endsWith("Counts") && column.every((n) => n === 0);
    out[name] = toBytes(empty ? new Uint32Array(0) : column);
  }
  return out;
}

/**
 * A PartialResponse's columns, checked against what was asked: `rows`, at most
 * `k` per row, the same targets, draws and points per row.
 */
export function decodePartialColumns(
  message: PartialColumnFields,
  asked: { rows: number; k: number; targetCounts: Uint32Array; options: RowOptions },
): BatchPartial {
  const { rows, k } = message;
  const columns: Record<string, unknown> = {};
  for (const name of COLUMN_NAMES) {
    const column = decodeColumn(PARTIAL_COLUMNS[name].dtype, message[name], snake(name));
    columns[name] = name.endsWith("Counts") && column.length === 0 ? new Uint32Array(rows) : column;
  }
  const p = partialFrom({ rows, k, ...(columns as object) });
  const bad = (why: string) => new ShardmaxError("INTERNAL", `a shard sent a partial that does not match its request: ${why}`);
  if (rows !== asked.rows || k > asked.k) throw bad(`rows ${rows}, k ${k}`);
  for (const name of COLUMN_NAMES) if (name.endsWith("Counts") && p[name].length !== rows) throw bad(snake(name));
  for (let r = 0; r < rows; r++) {
    if (p.targetCounts[r] !== asked.targetCounts[r]) throw bad(`targets of row ${r}`);
    if (p.drawCounts[r] !== optionAt(asked.options, "drawCounts", r)) throw bad(`draws of row ${r}`);
    if (p.pointCounts[r] !== optionAt(asked.options, "pointCounts", r)) throw bad(`points of row ${r}`);
  }
  const offsets = unitOffsets(p);
  for (const name of COLUMN_NAMES) {
    const unit = PARTIAL_COLUMNS[name].unit;
    if (p[name].length !== offsets[unit][rows]) throw bad(`${snake(name)} has ${p[name].length} values, ${offsets[unit][rows]} expected`);
  }
  return p;
}

/** Per-row options as PartialRequest fields. */
export function encodeOptions(options: RowOptions): { [N in OptionName]: Buffer } {
  const out = {} as { [N in OptionName]: Buffer };
  for (const name of OPTION_NAMES) out[name] = toBytes(options[name]);
  return out;
}

/** Per-row options of a PartialRequest for `rows` rows; each column empty or whole, refusals name the field. */
export function decodeOptions(message: RowOptionFields, rows: number): RowOptions {
  const out: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    const { dtype, unit } = ROW_OPTIONS[name];
    const column = decodeColumn(dtype, message[name], snake(name));
    if (unit === "row" && column.length !== 0 && column.length !== rows) throw invalidField(snake(name), `has ${column.length} values for ${rows} rows`);
    out[name] = column;
  }
  const options = out as RowOptions;
  let points = 0;
  for (let r = 0; r < rows; r++) points += optionAt(options, "pointCounts", r);
  for (const name of OPTION_NAMES) {
    if (ROW_OPTIONS[name].unit === "point" && options[name].length !== points) {
      throw invalidField(snake(name), `has ${options[name].length} values, point_counts sum to ${points}`);
    }
  }
  return options;
}
