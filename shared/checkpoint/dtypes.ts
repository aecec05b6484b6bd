/**
 * Stored element types: the ones a head may be served from (F32, F16, BF16,
 * each widened exactly to float32) and the byte sizes of every safetensors
 * dtype, so a header can be checked (and listed by `inspect`) even when a
 * tensor is of a type shardmax does not serve.
 */
import type { StoredDtype } from "./head-source.js";

/** Widens `src` (whole elements, 4-byte aligned) into `dst` starting at element `at`. */
export type Widen = (src: Uint8Array, dst: Float32Array, at: number) => void;

// A new served dtype is one row here; F32 is read without any copy.
export const SERVED_DTYPES: Record<StoredDtype, { bytes: number; widen: Widen | null }> = {
  F32: { bytes: 4, widen: null },
  F16: {
    bytes: 2,
    widen: (src, dst, at) => {
      const half = new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
      const table = f16Table();
      for (let i = 0; i < half.length; i++) dst[at + i] = table[half[i]!]!;
    },
  },
  // BF16 is exactly the top half of a float32, so widening is a shift.
  BF16: {
    bytes: 2,
    widen: (src, dst, at) => {
      const half = new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
      const out = new Uint32Array(dst.buffer, dst.byteOffset + at * 4, half.length);
      for (let i = 0; i < half.length; i++) out[i] = half[i]! << 16;
    },
  },
};

/** Bytes per element of every dtype the safetensors format defines. */
const ELEMENT_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
};

export function elementBytes(dtype: string): number | undefined {
  return Object.hasOwn(ELEMENT_BYTES, dtype) ? ELEMENT_BYTES[dtype] : undefined;
}

export function isServedDtype(dtype: string): dtype is StoredDtype {
  return Object.hasOwn(SERVED_DTYPES, dtype);
}

export const SERVED_DTYPE_LIST = Object.keys(SERVED_DTYPES).join(", ");

let f16Cache: Float32Array | null = null;

/** All 65536 halves as float32, exact: subnormals, ±0, ±inf and NaN payloads included. */
function f16Table(): Float32Array {
  if (f16Cache) return f16Cache;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    // Powers of two make both products exact in float64, and every half is a float32.
    if (exp === 31) bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
    else table[h] = (h & 0x8000 ? -1 : 1) * (exp === 0 ? mant * 2 ** -24 : (1024 + mant) * 2 ** (exp - 25));
  }
  return (f16Cache = table);
}
