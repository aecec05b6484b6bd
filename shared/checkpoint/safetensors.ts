/**
 * Single-file safetensors reader: `u64 LE header length N`, `N` bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`,
 * then the data section, whose offsets are relative to byte `8 + N`.
 *
 * Only the header and the bytes of the requested rows are read; F32 rows are
 * read straight into the result's memory, F16/BF16 through one bounded scratch
 * chunk. Typed arrays alias file bytes directly, which assumes a little-endian
 * host (as the format and every platform onnxruntime-node supports are).
 */
import { open, type FileHandle } from "node:fs/promises";
import { createHash } from "node:crypto";
import { ShardmaxError } from "../errors.js";
import type { ClassRange } from "../ranges.js";
import type { HeadDescription, HeadSlice, HeadSource, LoadProgress, StoredDtype } from "./head-source.js";

export interface SafetensorsOptions {
  /** Weight tensor name; default "lm_head.weight". */
  tensor?: string;
  /** Bias tensor name; default "lm_head.bias" when the file has it. Naming an absent one is an error. */
  bias?: string;
  /** Read granularity; tests make it tiny to exercise chunk boundaries. */
  chunkBytes?: number;
}

const DEFAULT_WEIGHT = "lm_head.weight";
const DEFAULT_BIAS = "lm_head.bias";
const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const FINGERPRINT_VERSION = "shardmax-fp-v1";

/** Widens `src` (whole elements, 4-byte aligned) into `dst` starting at element `at`. */
type Widen = (src: Uint8Array, dst: Float32Array, at: number) => void;

// A new stored dtype is one row here; F32 is read without any copy.
const DTYPES: Record<StoredDtype, { bytes: number; widen: Widen | null }> = {
  F32: { bytes: 4, widen: null },
  // BF16 is exactly the top half of a float32, so widening is a shift.
  BF16: {
    bytes: 2,
    widen: (src, dst, at) => {
      const half = new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
      const out = new Uint32Array(dst.buffer, dst.byteOffset + at * 4, half.length);
      for (let i = 0; i < half.length; i++) out[i] = half[i] << 16;
    },
  },
  F16: {
    bytes: 2,
    widen: (src, dst, at) => {
      const half = new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
      const table = f16Table();
      for (let i = 0; i < half.length; i++) dst[at + i] = table[half[i]];
    },
  },
};

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

/** A run of bytes in the file: absolute position and length. */
interface Span {
  readonly position: number;
  readonly byteLength: number;
}

interface TensorEntry extends Span {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly shape: readonly number[];
}

/** The bytes of rows [start, start + count) of a class-major tensor (W or b). */
function rows(entry: TensorEntry, start: number, count: number): Span {
  const rowBytes = entry.byteLength / entry.shape[0];
  return { position: entry.position + start * rowBytes, byteLength: count * rowBytes };
}

export async function openSafetensors(path: string, options: SafetensorsOptions = {}): Promise<HeadSource> {
  const fail = (reason: string) => new ShardmaxError("INVALID_ARGUMENT", `weights ${path}: ${reason}`);
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ShardmaxError("INVALID_ARGUMENT", `weights ${path}: ${code === "ENOENT" ? "no such file" : `cannot open (${code ?? err})`}`, { cause: err });
  }
  try {
    const fileSize = (await file.stat()).size;
    const header = await readHeader(file, fileSize, fail);
    const entry = (name: string): TensorEntry => tensorEntry(header, name, fileSize, fail);
    const weightName = options.tensor ?? DEFAULT_WEIGHT;
    if (!Object.hasOwn(header.tensors, weightName)) throw fail(`no tensor "${weightName}"; available: ${nearestNames(weightName, Object.keys(header.tensors))}`);
    const weight = entry(weightName);
    if (weight.shape.length !== 2 || weight.shape[0] < 1 || weight.shape[1] < 1) {
      throw fail(`tensor "${weightName}" has shape [${weight.shape}]; expected rank 2 [V, d] with V, d ≥ 1`);
    }
    const biasName = options.bias ?? (Object.hasOwn(header.tensors, DEFAULT_BIAS) ? DEFAULT_BIAS : null);
    if (biasName !== null && !Object.hasOwn(header.tensors, biasName)) {
      throw fail(`no bias tensor "${biasName}"; available: ${nearestNames(biasName, Object.keys(header.tensors))}`);
    }
    const bias = biasName === null ? null : entry(biasName);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== weight.shape[0])) {
      throw fail(`bias "${bias.name}" has shape [${bias.shape}]; expected rank 1 [${weight.shape[0]}]`);
    }
    return new SafetensorsHead(file, path, weight, bias, options.chunkBytes ?? DEFAULT_CHUNK_BYTES, fail);
  } catch (err) {
    await file.close();
    throw err;
  }
}

class SafetensorsHead implements HeadSource {
  readonly description: HeadDescription;
  private readonly chunkBytes: number;
  private fingerprintPromise: Promise<string> | null = null;
  private closed = false;

  constructor(
    private readonly file: FileHandle,
    path: string,
    private readonly weight: TensorEntry,
    private readonly bias: TensorEntry | null,
    chunkBytes: number,
    private readonly fail: (reason: string) => ShardmaxError,
  ) {
    // Whole 4-byte units keep every scratch chunk aligned for Uint16/Uint32 views.
    this.chunkBytes = Math.max(4, Math.floor(chunkBytes / 4) * 4);
    this.description = Object.freeze({
      vocabSize: weight.shape[0],
      dim: weight.shape[1],
      dtype: weight.dtype,
      weightTensor: weight.name,
      biasTensor: bias?.name ?? null,
      source: path,
    });
  }

  async readRows(range: ClassRange, onProgress?: LoadProgress): Promise<HeadSlice> {
    const { vocabSize, dim } = this.description;
    if (range.end > vocabSize) throw this.fail(`range ${range} reaches beyond V=${vocabSize}`);
    const biasSpan = this.bias && rows(this.bias, range.start, range.size);
    const weightSpan = rows(this.weight, range.start, range.size);
    const total = weightSpan.byteLength + (biasSpan?.byteLength ?? 0);
    let done = 0;
    const progress = (n: number) => onProgress?.((done += n), total);
    const weight = new Float32Array(range.size * dim);
    await this.readInto(weight, this.weight.dtype, weightSpan, progress);
    let bias: Float32Array | null = null;
    if (this.bias && biasSpan) await this.readInto((bias = new Float32Array(range.size)), this.bias.dtype, biasSpan, progress);
    return { weight, bias };
  }

  /**
   * sha256 over, in order: the UTF-8 text
   * `shardmax-fp-v1\ndtype=<W dtype>\nshape=<V>,<d>\nbias=<b dtype or "none">\n`,
   * then the raw stored bytes of W, then those of b. Hashing stored bytes (not
   * the file) makes it independent of header layout and other tensors. Result:
   * "sha256:" + the first 32 hex digits.
   */
  fingerprint(): Promise<string> {
    this.fingerprintPromise ??= this.hashTensors().catch((err) => {
      this.fingerprintPromise = null;
      throw err;
    });
    return this.fingerprintPromise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private async hashTensors(): Promise<string> {
    const { dtype, vocabSize, dim } = this.description;
    const hash = createHash("sha256");
    hash.update(`${FINGERPRINT_VERSION}\ndtype=${dtype}\nshape=${vocabSize},${dim}\nbias=${this.bias?.dtype ?? "none"}\n`);
    const scratch = new Uint8Array(Math.min(this.chunkBytes, Math.max(this.weight.byteLength, this.bias?.byteLength ?? 0)));
    for (const span of this.bias ? [this.weight, this.bias] : [this.weight]) {
      await this.eachChunk(span, async (offset, n) => {
        await readExactly(this.file, scratch.subarray(0, n), span.position + offset, this.fail);
        hash.update(scratch.subarray(0, n));
      });
    }
    return `sha256:${hash.digest("hex").slice(0, 32)}`;
  }

  /** F32 chunks land directly in `dst`'s memory; narrower dtypes go through one scratch chunk. */
  private async readInto(dst: Float32Array, dtype: StoredDtype, span: Span, progress: (n: number) => void): Promise<void> {
    const { bytes, widen } = DTYPES[dtype];
    const target = widen ? new Uint8Array(Math.min(this.chunkBytes, span.byteLength)) : new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
    await this.eachChunk(span, async (offset, n) => {
      const view = widen ? target.subarray(0, n) : target.subarray(offset, offset + n);
      await readExactly(this.file, view, span.position + offset, this.fail);
      widen?.(view, dst, offset / bytes);
      progress(n);
    });
  }

  private async eachChunk(span: Span, visit: (offset: number, n: number) => Promise<void>): Promise<void> {
    for (let offset = 0; offset < span.byteLength; offset += this.chunkBytes) {
      await visit(offset, Math.min(this.chunkBytes, span.byteLength - offset));
    }
  }
}

interface Header {
  readonly tensors: Record<string, unknown>;
  readonly dataStart: number;
}

async function readHeader(file: FileHandle, fileSize: number, fail: (reason: string) => ShardmaxError): Promise<Header> {
  if (fileSize < 8) throw fail(`truncated: ${fileSize} bytes is too short for a safetensors header`);
  const prefix = Buffer.alloc(8);
  await readExactly(file, prefix, 0, fail);
  const length = prefix.readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${length} is over the ${MAX_HEADER_BYTES}-byte limit`);
  if (8n + length > BigInt(fileSize)) throw fail(`header length ${length} reaches beyond the file size ${fileSize}`);
  const bytes = Buffer.alloc(Number(length));
  await readExactly(file, bytes, 8, fail);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw fail(`header is not valid JSON (${err instanceof Error ? err.message : err})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw fail("header is not a JSON object");
  const tensors: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
  delete tensors.__metadata__;
  return { tensors, dataStart: 8 + bytes.length };
}

/** FileHandle.read may return short; a zero-byte read means the file shrank under us. */
async function readExactly(file: FileHandle, view: Uint8Array, position: number, fail: (reason: string) => ShardmaxError): Promise<void> {
  for (let got = 0; got < view.byteLength; ) {
    const { bytesRead } = await file.read(view, got, view.byteLength - got, position + got);
    if (bytesRead === 0) throw fail(`truncated: file ends before byte ${position + view.byteLength}`);
    got += bytesRead;
  }
}

function tensorEntry(header: Header, name: string, fileSize: number, fail: (reason: string) => ShardmaxError): TensorEntry {
  const raw = header.tensors[name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  const { dtype, shape, data_offsets: offsets } = raw ?? {};
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPES, dtype)) {
    throw fail(`tensor "${name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPES).join(", ")}`);
  }
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`tensor "${name}" has a malformed shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw fail(`tensor "${name}" has malformed data_offsets ${JSON.stringify(offsets)}`);
  }
  const needed = shape.reduce((a: number, b: number) => a * b, DTYPES[dtype as StoredDtype].bytes);
  const [begin, end] = offsets as [number, number];
  if (end - begin !== needed) {
    throw fail(`tensor "${name}" data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} [${shape}] needs ${needed}`);
  }
  if (header.dataStart + end > fileSize) {
    throw fail(`truncated: tensor "${name}" ends at byte ${header.dataStart + end} but the file has ${fileSize}`);
  }
  return { name, dtype: dtype as StoredDtype, shape, position: header.dataStart + begin, byteLength: needed };
}

/** Up to ten names, closest (edit distance) first, so a typo shows its fix. */
function nearestNames(wanted: string, names: string[]): string {
  if (names.length === 0) return "(none)";
  const ranked = names.map((n) => ({ n, d: editDistance(wanted, n) })).sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  const shown = ranked.slice(0, 10).map((r) => r.n).join(", ");
  return names.length > 10 ? `${shown} (and ${names.length - 10} more)` : shown;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}
