/**
 * Little-endian tensor bytes for the wire. A received `bytes` field is a view
 * at an arbitrary offset inside the gRPC frame, so typed arrays cannot alias
 * it: it is copied exactly once into fresh, aligned memory. (Every supported
 * platform of onnxruntime-node is little-endian, as is the wire format.)
 */
import { invalidField } from "./errors.js";

export function toBytes(array: Float32Array | Float64Array | Uint32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

function aligned(bytes: Uint8Array, elementSize: number, field: string): ArrayBuffer {
  if (bytes.byteLength % elementSize !== 0) {
    throw invalidField(field, `${bytes.byteLength} bytes is not a whole number of ${elementSize}-byte values`);
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}

export function float32From(bytes: Uint8Array, field: string): Float32Array {
  return new Float32Array(aligned(bytes, 4, field));
}

export function float64From(bytes: Uint8Array, field: string): Float64Array {
  return new Float64Array(aligned(bytes, 8, field));
}

export function uint32From(bytes: Uint8Array, field: string): Uint32Array {
  return new Uint32Array(aligned(bytes, 4, field));
}
