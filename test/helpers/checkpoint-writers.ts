/**
 * Writes the other checkpoint kinds for tests, from the format descriptions
 * and independent of the readers: .npy files, Hugging Face folders (sharded
 * with an index, or a single model.safetensors), tokenizer.json files, and
 * the 16-bit encodings (BF16, F16) with their own decoding, so a test's
 * float64 reference is computed from the rounded weights without using the
 * code under test.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type TensorInput, writeSafetensors } from "./safetensors-writer.js";

/** A .npy file (format 1.0) of C-order data under `descr` ('<f4', '<f2', or anything for error tests). */
export function encodeNpy(descr: string, shape: readonly number[], data: Uint8Array, options: { fortran?: boolean; version?: 1 | 2 } = {}): Buffer {
  const version = options.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${options.fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const prefixBytes = version === 1 ? 10 : 12;
  // numpy pads with spaces and ends with "\n" so the data starts 64-byte aligned.
  dict += `${" ".repeat((64 - ((prefixBytes + dict.length + 1) % 64)) % 64)}\n`;
  const prefix = Buffer.alloc(prefixBytes);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(prefix);
  if (version === 1) prefix.writeUInt16LE(dict.length, 8);
  else prefix.writeUInt32LE(dict.length, 8);
  return Buffer.concat([prefix, Buffer.from(dict, "latin1"), data]);
}

export async function writeNpy(path: string, descr: string, shape: readonly number[], data: Uint8Array): Promise<string> {
  await writeFile(path, encodeNpy(descr, shape, data));
  return path;
}

/** float32 → BF16 bit patterns, rounding to nearest even (as PyTorch's .to(torch.bfloat16) does). */
export function toBf16(values: ArrayLike<number>): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from({ length: values.length }, (_, i) => {
    f[0] = values[i]!;
    const bits = u[0]!;
    return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
  });
}

/** BF16 bit pattern → its exact value. */
export function fromBf16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 0) return sign * mantissa * 2 ** -133;
  return sign * (1 + mantissa / 128) * 2 ** (exponent - 127);
}

/** float → F16 bit pattern for values in the normal half range, rounded to nearest (ties away; tests avoid exact ties). */
export function toF16(value: number): number {
  const sign = value < 0 ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude < 2 ** -14) return sign | Math.round(magnitude / 2 ** -24);
  let exponent = Math.floor(Math.log2(magnitude));
  let mantissa = Math.round((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** F16 bit pattern → its exact value (finite patterns). */
export function fromF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  return exponent === 0 ? sign * mantissa * 2 ** -24 : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export const uint16Le = (bits: Uint16Array | number[]) => {
  const out = Buffer.alloc(bits.length * 2);
  bits.forEach((b, i) => out.writeUInt16LE(b, i * 2));
  return out;
};

/**
 * A sharded Hugging Face folder: `files` lists which tensors go in which
 * model-0000X-of-0000N.safetensors, and the index maps every name to its file.
 */
export async function writeHfFolder(dir: string, files: Record<string, TensorInput>[], extra: { index?: unknown } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const weightMap: Record<string, string> = {};
  for (const [i, tensors] of files.entries()) {
    const name = `model-${String(i + 1).padStart(5, "0")}-of-${String(files.length).padStart(5, "0")}.safetensors`;
    await writeSafetensors(join(dir, name), tensors);
    for (const tensor of Object.keys(tensors)) weightMap[tensor] = name;
  }
  const index = extra.index ?? { metadata: { total_size: 0 }, weight_map: weightMap };
  await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify(index, null, 2));
  return dir;
}

/** GPT-2's bytes_to_unicode, written out from its definition. */
export function byteToUnicode(byte: number): string {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  if (printable(byte)) return String.fromCodePoint(byte);
  let n = 0;
  for (let b = 0; b < byte; b++) if (!printable(b)) n++;
  return String.fromCodePoint(256 + n);
}

/** A byte-level BPE token for `text` (its UTF-8 bytes mapped through bytes_to_unicode). */
export function byteLevelToken(text: string | Uint8Array): string {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  return Array.from(bytes, byteToUnicode).join("");
}

/** A minimal byte-level BPE tokenizer.json: `vocab[i]` is the token of id i; added tokens after. */
export function tokenizerJson(
  vocab: readonly string[],
  added: { id: number; content: string }[] = [],
  decoder: unknown = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
): string {
  return JSON.stringify({
    version: "1.0",
    added_tokens: added.map((a) => ({ ...a, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder,
    model: { type: "BPE", dropout: null, unk_token: null, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges: [] },
  });
}
