/**
 * The Open Inference Protocol as an independent client sees it: the schemas
 * of the specification's own open_inference_rest.yaml (vendored verbatim in
 * test/specs/) compiled with ajv, and binary-extension bodies built and read
 * here from extension_binary_data.md, not from the code under test.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

export const SPEC_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "specs", "open-inference-protocol");

interface OpenApi {
  components: { schemas: Record<string, object> };
}

const spec = parse(readFileSync(join(SPEC_DIR, "open_inference_rest.yaml"), "utf8")) as OpenApi;
// The file is OpenAPI 3.0: its schemas are JSON Schema with `x-` extensions and no `nullable`; $refs point into components.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema({ $id: "oip", components: spec.components });
const compiled = new Map<string, ValidateFunction>();

export type SpecSchema =
  | "metadata_server_response"
  | "metadata_server_error_response"
  | "metadata_model_response"
  | "metadata_model_error_response"
  | "inference_request"
  | "inference_response"
  | "inference_error_response";

/** The ajv errors of `value` against a schema of the specification (empty: valid). */
export function specErrors(name: SpecSchema, value: unknown): string[] {
  const validate = compiled.get(name) ?? ajv.compile({ $ref: `oip#/components/schemas/${name}` });
  compiled.set(name, validate);
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/**
 * The JSON header of a binary response: the extension moves a binary output's
 * values out of `data` into the tail (naming their size in
 * `binary_data_size`), so for those outputs, and only those, `data` is
 * checked absent instead of required; the rest is the specification's schema.
 */
export function binaryHeaderErrors(header: { outputs?: { parameters?: { binary_data_size?: number }; data?: unknown }[] }): string[] {
  const withData = {
    ...header,
    outputs: (header.outputs ?? []).map((o) => {
      if (o.parameters?.binary_data_size === undefined) return o;
      return o.data === undefined ? { ...o, data: [] } : { ...o, data: "binary output with data" };
    }),
  };
  return specErrors("inference_response", withData);
}

/** A binary-extension body: the JSON header, then each buffer in order. */
export function binaryBody(header: object, buffers: Uint8Array[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...buffers]), headerLength: json.length };
}

/** A binary response read back: the header, and each binary output's bytes by name. */
export function readBinaryResponse(body: Buffer, headerLength: number): { header: any; bytes: Map<string, Buffer> } {
  const header = JSON.parse(body.subarray(0, headerLength).toString("utf8"));
  const bytes = new Map<string, Buffer>();
  let at = headerLength;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    bytes.set(o.name, body.subarray(at, at + size));
    at += size;
  }
  if (at !== body.length) throw new Error(`binary response: ${body.length - at} bytes left over`);
  return { header, bytes };
}

export const le = {
  f32: (values: ArrayLike<number>) => Buffer.from(Float32Array.from(values as number[]).buffer),
  f64: (values: ArrayLike<number>) => Buffer.from(Float64Array.from(values as number[]).buffer),
  i64: (values: ArrayLike<number>) => Buffer.from(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer),
  readF64: (b: Buffer) => Array.from({ length: b.length / 8 }, (_, i) => b.readDoubleLE(8 * i)),
  readI64: (b: Buffer) => Array.from({ length: b.length / 8 }, (_, i) => Number(b.readBigInt64LE(8 * i))),
};

/** float → the nearest binary16 (round half to even), for FP16 inputs; NaN and ±∞ kept. */
export function toHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal: multiples of 2^-24 (Math.round ties up; fine for test data)
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e >= 2) e += 1;
  if (a / 2 ** e < 1) e -= 1;
  const m = a / 2 ** e - 1;
  let frac = m * 1024;
  const floor = Math.floor(frac);
  frac = frac - floor > 0.5 || (frac - floor === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  if (frac === 1024) return e + 1 + 15 >= 31 ? sign | 0x7c00 : sign | ((e + 16) << 10);
  if (e + 15 >= 31) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | frac;
}

/** binary16 bits → number, written independently of the gateway's decoder. */
export function fromHalfBits(bits: number): number {
  const e = (bits >> 10) & 31;
  const f = bits & 1023;
  const s = bits >> 15 ? -1 : 1;
  if (e === 31) return f ? NaN : s * Infinity;
  return e === 0 ? s * f * 2 ** -24 : s * 2 ** (e - 15) * (1 + f / 1024);
}

export function halfBuffer(values: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(values.length * 2);
  for (let i = 0; i < values.length; i++) b.writeUInt16LE(toHalfBits(values[i]!), 2 * i);
  return b;
}
