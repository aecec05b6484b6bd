/**
 * Writes safetensors files for tests, straight from the format description
 * (u64 LE header length, JSON header, data section) and independent of the
 * reader, so a shared misunderstanding cannot make both sides agree.
 */
import { writeFile } from "node:fs/promises";

/** A float32 tensor, or raw stored bytes under any dtype string (F16, BF16, I64, …). */
export type TensorInput =
  | { readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly shape: readonly number[]; readonly dtype: string; readonly bytes: Uint8Array };

/** Lays tensors out in insertion order; the header is space-padded to 8 bytes as the reference writer does. */
export function encodeSafetensors(tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const bytes = "data" in tensor ? float32Bytes(tensor.data) : Buffer.from(tensor.bytes);
    const dtype = "data" in tensor ? "F32" : tensor.dtype;
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  return frame(JSON.stringify(header), Buffer.concat(chunks));
}

/** Any header text (even broken) followed by `data`, with the header length computed or forced. */
export function frame(headerText: string, data: Uint8Array, headerLength?: bigint): Buffer {
  let text = Buffer.from(headerText, "utf8");
  const padding = (8 - (text.length % 8)) % 8;
  text = Buffer.concat([text, Buffer.alloc(padding, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(text.length));
  return Buffer.concat([prefix, text, data]);
}

export async function writeSafetensors(path: string, tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Promise<void> {
  await writeFile(path, encodeSafetensors(tensors, metadata));
}

/** Little-endian bytes of a float32 array, written value by value to not rely on host order. */
export function float32Bytes(data: Float32Array): Buffer {
  const out = Buffer.alloc(data.length * 4);
  data.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

/** Little-endian bytes of 16-bit patterns (F16 or BF16 stored values). */
export function uint16Bytes(patterns: readonly number[]): Buffer {
  const out = Buffer.alloc(patterns.length * 2);
  patterns.forEach((v, i) => out.writeUInt16LE(v, i * 2));
  return out;
}
