/**
 * A head whose W (and optional b) are located tensors in files: the one
 * HeadSource behind safetensors files, Hugging Face folders and .npy files.
 *
 * Only the bytes of the requested rows are read, in bounded chunks: F32 rows
 * land straight in the caller's memory, F16/BF16 rows go through one scratch
 * chunk and are widened in place. Typed arrays alias file bytes directly,
 * which assumes a little-endian host (as the formats and every platform
 * onnxruntime-node supports are).
 */
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import type { ClassRange } from "../ranges.js";
import { SERVED_DTYPES } from "./dtypes.js";
import type { HeadDescription, HeadSlice, HeadSource, LoadProgress, SliceTarget, StoredDtype } from "./head-source.js";
import { checkpointError, ioReason, readExactly, type TensorInfo } from "./tensor-info.js";

export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
const FINGERPRINT_VERSION = "shardmax-fp-v1";

/** A run of bytes in one file. */
interface Span {
  readonly file: string;
  readonly position: number;
  readonly byteLength: number;
}

export class TensorHead implements HeadSource {
  readonly description: HeadDescription;
  private readonly chunkBytes: number;
  private readonly handles = new Map<string, Promise<FileHandle>>();
  private fingerprintPromise: Promise<string> | null = null;
  /** One scratch chunk for widening and hashing, reused: a new one per block would fragment the heap. */
  private scratch: Uint8Array | null = null;

  /** `weight` and `bias` must have passed `checkHead`; `source` names the checkpoint in messages. */
  constructor(
    private readonly weight: TensorInfo,
    private readonly bias: TensorInfo | null,
    source: string,
    chunkBytes = DEFAULT_CHUNK_BYTES,
  ) {
    // Whole 4-byte units keep every scratch chunk aligned for Uint16/Uint32 views.
    this.chunkBytes = Math.max(4, Math.floor(chunkBytes / 4) * 4);
    this.description = Object.freeze({
      vocabSize: weight.shape[0]!,
      dim: weight.shape[1]!,
      dtype: weight.dtype as StoredDtype,
      weightTensor: weight.name,
      biasTensor: bias?.name ?? null,
      source,
    });
  }

  async readRows(range: ClassRange, onProgress?: LoadProgress): Promise<HeadSlice> {
    const target = { weight: new Float32Array(range.size * this.description.dim), bias: this.bias ? new Float32Array(range.size) : null };
    await this.readRowsInto(range, target, onProgress);
    return target;
  }

  async readRowsInto(range: ClassRange, target: SliceTarget, onProgress?: LoadProgress): Promise<void> {
    const { vocabSize, dim, source } = this.description;
    if (range.end > vocabSize) throw checkpointError(source, `range ${range} reaches beyond V=${vocabSize}`);
    const weightSpan = this.rows(this.weight, range, dim);
    const biasSpan = this.bias && target.bias ? this.rows(this.bias, range, 1) : null;
    const total = weightSpan.byteLength + (biasSpan?.byteLength ?? 0);
    let done = 0;
    const progress = (n: number) => onProgress?.((done += n), total);
    await this.readInto(target.weight, this.weight.dtype as StoredDtype, weightSpan, progress);
    if (biasSpan) await this.readInto(target.bias!, this.bias!.dtype as StoredDtype, biasSpan, progress);
  }

  /**
   * sha256 over, in order: the UTF-8 text
   * `shardmax-fp-v1\ndtype=<W dtype>\nshape=<V>,<d>\nbias=<b dtype or "none">\n`,
   * then the raw stored bytes of W, then those of b. Hashing stored bytes (not
   * files) makes it independent of the container, header layout, other
   * tensors and how a folder is split into files. "sha256:" + 32 hex digits.
   */
  fingerprint(): Promise<string> {
    this.fingerprintPromise ??= this.hashTensors().catch((err: unknown) => {
      this.fingerprintPromise = null;
      throw err;
    });
    return this.fingerprintPromise;
  }

  async close(): Promise<void> {
    this.scratch = null;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (h) => (await h.catch(() => null))?.close()));
  }

  /** Rows [range) of a class-major tensor with `perRow` elements per class. */
  private rows(tensor: TensorInfo, range: ClassRange, perRow: number): Span {
    const rowBytes = perRow * SERVED_DTYPES[tensor.dtype as StoredDtype].bytes;
    return { file: tensor.file, position: tensor.position + range.start * rowBytes, byteLength: range.size * rowBytes };
  }

  private scratchChunk(): Uint8Array {
    const largest = Math.max(this.weight.byteLength, this.bias?.byteLength ?? 0);
    return (this.scratch ??= new Uint8Array(Math.min(this.chunkBytes, largest)));
  }

  private handle(path: string): Promise<FileHandle> {
    let handle = this.handles.get(path);
    if (!handle) {
      handle = open(path, "r").catch((err: unknown) => {
        this.handles.delete(path);
        throw checkpointError(path, ioReason(err), err);
      });
      this.handles.set(path, handle);
    }
    return handle;
  }

  private async hashTensors(): Promise<string> {
    const { dtype, vocabSize, dim } = this.description;
    const hash = createHash("sha256");
    hash.update(`${FINGERPRINT_VERSION}\ndtype=${dtype}\nshape=${vocabSize},${dim}\nbias=${this.bias?.dtype ?? "none"}\n`);
    const spans = this.bias ? [this.weight, this.bias] : [this.weight];
    const scratch = this.scratchChunk();
    for (const span of spans) {
      const file = await this.handle(span.file);
      await this.eachChunk(span, async (offset, n) => {
        await readExactly(file, scratch.subarray(0, n), span.position + offset, span.file);
        hash.update(scratch.subarray(0, n));
      });
    }
    return `sha256:${hash.digest("hex").slice(0, 32)}`;
  }

  /** F32 chunks land directly in `dst`'s memory; narrower dtypes go through one scratch chunk. */
  private async readInto(dst: Float32Array, dtype: StoredDtype, span: Span, progress: (n: number) => void): Promise<void> {
    const { bytes, widen } = SERVED_DTYPES[dtype];
    const elements = span.byteLength / bytes;
    if (dst.length < elements) throw new RangeError(`target holds ${dst.length} floats, ${elements} are needed`);
    const file = await this.handle(span.file);
    const target = widen ? this.scratchChunk() : new Uint8Array(dst.buffer, dst.byteOffset, elements * 4);
    await this.eachChunk(span, async (offset, n) => {
      const view = widen ? target.subarray(0, n) : target.subarray(offset, offset + n);
      await readExactly(file, view, span.position + offset, span.file);
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
