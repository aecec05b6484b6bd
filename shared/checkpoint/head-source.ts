/**
 * Where a head's weights come from. A shard opens a source, reads only its
 * rows, fingerprints the whole head, and closes it. Every checkpoint format
 * (safetensors file, Hugging Face folder, .npy; F32, F16, BF16) is read
 * through this interface, chosen by `openHead` from what the path is.
 */
import type { ClassRange } from "../ranges.js";

export type StoredDtype = "F32" | "F16" | "BF16";

export interface HeadDescription {
  /** V: number of classes (rows of W). */
  readonly vocabSize: number;
  /** d: hidden size (columns of W). */
  readonly dim: number;
  /** How W is stored; rows are always widened to float32 when read. */
  readonly dtype: StoredDtype;
  readonly weightTensor: string;
  /** Name of the bias tensor, or null when the head has none. */
  readonly biasTensor: string | null;
  /** Human-readable origin, e.g. the file path or "builtin:default". */
  readonly source: string;
}

export interface HeadSlice {
  /** Rows [start, end) of W, row-major float32, (end − start) × d. */
  readonly weight: Float32Array;
  /** b[start, end), or null when the head has no bias. */
  readonly bias: Float32Array | null;
}

/** Called while a slice loads, so the log can show progress. */
export type LoadProgress = (bytesDone: number, bytesTotal: number) => void;

/** Where `readRowsInto` puts rows: W needs ≥ size × d floats, b ≥ size (or null to skip the bias). */
export interface SliceTarget {
  readonly weight: Float32Array;
  readonly bias: Float32Array | null;
}

export interface HeadSource {
  readonly description: HeadDescription;
  /** Reads only the bytes of rows in `range`, into new arrays. */
  readRows(range: ClassRange, onProgress?: LoadProgress): Promise<HeadSlice>;
  /** Reads rows in `range` into caller-owned memory, so a shard can stream its slice block by block through one buffer. */
  readRowsInto(range: ClassRange, target: SliceTarget, onProgress?: LoadProgress): Promise<void>;
  /** Identical on every shard of one head; changes with any byte or the shape. */
  fingerprint(): Promise<string>;
  close(): Promise<void>;
}
