/**
 * Input tensors of the Open Inference Protocol (KServe V2) read into plain
 * numbers: JSON `data` (flat or nested, checked against `shape`), raw
 * little-endian bytes (the binary extension's tail, gRPC `raw_input_contents`)
 * or gRPC typed `contents`. Pure: no I/O, no protocol objects, so the same
 * code serves REST and gRPC and can be fuzzed from bytes alone.
 *
 * Nothing is allocated in proportion to `shape` before the data is seen to
 * hold that many values: the data is bounded by the body limit, the shape is not.
 */
import { invalidField } from "../../shared/errors.js";

export type V2Param = boolean | number | string;
export type V2Params = Record<string, V2Param>;

/** An input as it arrived; exactly one of data, raw and values carries its values. */
export interface V2Input {
  name: string;
  datatype: string;
  shape: readonly number[];
  parameters?: V2Params;
  /** JSON `data`, flat or nested. */
  data?: unknown;
  /** Little-endian bytes. */
  raw?: Uint8Array;
  /** gRPC typed contents (already numbers). */
  values?: ArrayLike<number>;
}

const ELEMENT_BYTES: Record<string, number> = { FP16: 2, FP32: 4, FP64: 8, INT64: 8 };

/** A 2-D shape of non-negative integers whose element count is exact in a double. */
export function shape2(input: V2Input): [number, number] {
  const { shape, name } = input;
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw invalidField(`${name}.shape`, `must have 2 dimensions [rows, columns], got [${String(shape).slice(0, 60)}]`);
  }
  for (const [i, n] of shape.entries()) {
    if (!Number.isSafeInteger(n) || n < 0) throw invalidField(`${name}.shape[${i}]`, `must be an integer ≥ 0, got ${n}`);
  }
  if (!Number.isSafeInteger(shape[0]! * shape[1]!)) throw invalidField(`${name}.shape`, `[${shape[0]}, ${shape[1]}] has too many elements`);
  return [shape[0]!, shape[1]!];
}

/** The input's `count` values as numbers; `integers` refuses any JSON value that is not an integer. */
export function numbersOf(input: V2Input, count: number, integers: boolean): ArrayLike<number> {
  const { name } = input;
  if (input.raw !== undefined) return fromBytes(input.raw, input.datatype, count, name);
  if (input.values !== undefined) {
    if (input.values.length !== count) {
      throw invalidField(`${name}.contents`, `has ${input.values.length} values, shape [${input.shape.join(", ")}] needs ${count}`);
    }
    return input.values;
  }
  if (input.data === undefined) throw invalidField(`${name}.data`, "is required (or the binary_data_size parameter with the bytes after the JSON header)");
  return fromJson(input.data, input.shape, name, integers);
}

function fromBytes(bytes: Uint8Array, datatype: string, count: number, name: string): ArrayLike<number> {
  const size = ELEMENT_BYTES[datatype];
  if (size === undefined) throw invalidField(`${name}.datatype`, `${datatype} has no binary form here`);
  if (bytes.byteLength !== count * size) throw invalidField(name, `has ${bytes.byteLength} bytes, shape × ${datatype} needs ${count * size}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (datatype) {
    case "FP16":
      return Float64Array.from({ length: count }, (_, i) => halfToNumber(view.getUint16(2 * i, true)));
    case "FP32":
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
    case "FP64":
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
    default:
      return Array.from({ length: count }, (_, i) => {
        const v = view.getBigInt64(8 * i, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw invalidField(`${name}[${i}]`, `${v} is beyond 2^53`);
        return Number(v);
      });
  }
}

/** IEEE 754 binary16 → number (exact: every half is a double). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Flat data of exactly count values, or nested data whose every level matches the shape. */
function fromJson(data: unknown, shape: readonly number[], name: string, integers: boolean): number[] {
  const field = `${name}.data`;
  if (!Array.isArray(data)) throw invalidField(field, "must be an array");
  const count = shape.reduce((a, b) => a * b, 1);
  const nested = data.length > 0 && Array.isArray(data[0]);
  if (!nested) {
    if (data.length !== count) throw invalidField(field, `has ${data.length} values, shape [${shape.join(", ")}] needs ${count}`);
    return data.map((v, i) => leaf(v, `${field}[${i}]`, integers));
  }
  const out: number[] = [];
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      out.push(leaf(node, path, integers));
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `${node.length} items` : typeof node;
      throw invalidField(path, `must be an array of ${shape[depth]} (shape [${shape.join(", ")}]), got ${got}`);
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, field);
  return out;
}

function leaf(value: unknown, path: string, integers: boolean): number {
  if (typeof value !== "number") throw invalidField(path, `must be a number, got ${value === null ? "null" : typeof value}`);
  if (integers && !Number.isInteger(value)) throw invalidField(path, `must be an integer, got ${value}`);
  return value;
}
