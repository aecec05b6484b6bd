/**
 * What every checkpoint reader reports about a tensor, whatever the container
 * (safetensors file, Hugging Face folder, .npy): its name, stored dtype and
 * shape, and the exact bytes that hold it. Plus the small file helpers the
 * readers share: one-line errors naming the file, exact positional reads.
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { ShardmaxError } from "../errors.js";

export interface TensorInfo {
  readonly name: string;
  /** As stored: "F32", "BF16", … ("I64" and the like are listed, never served). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The file holding the bytes. */
  readonly file: string;
  /** Absolute byte offset of the first element in `file`. */
  readonly position: number;
  readonly byteLength: number;
}

/** A refusal of a checkpoint: one line, naming the path and the reason. */
export function checkpointError(path: string, reason: string, cause?: unknown): ShardmaxError {
  return new ShardmaxError("INVALID_ARGUMENT", `weights ${path}: ${reason}`, cause === undefined ? undefined : { cause });
}

/** Turns an fs error into a one-line reason ("no such file", "permission denied"). */
export function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    default:
      return `cannot read (${code ?? (err instanceof Error ? err.message : String(err))})`;
  }
}

/** Opens a regular file for reading; a FIFO or device would block or never end, so it is refused. */
export async function openRegularFile(path: string): Promise<{ file: FileHandle; size: number }> {
  const info = await stat(path).catch((err: unknown) => {
    throw checkpointError(path, ioReason(err), err);
  });
  if (info.isDirectory()) throw checkpointError(path, "is a directory");
  if (!info.isFile()) throw checkpointError(path, "is not a regular file");
  const file = await open(path, "r").catch((err: unknown) => {
    throw checkpointError(path, ioReason(err), err);
  });
  return { file, size: info.size };
}

/** FileHandle.read may return short; a zero-byte read means the file ends (or shrank under us). */
export async function readExactly(file: FileHandle, view: Uint8Array, position: number, path: string): Promise<void> {
  for (let got = 0; got < view.byteLength; ) {
    const { bytesRead } = await file.read(view, got, view.byteLength - got, position + got);
    if (bytesRead === 0) throw checkpointError(path, `truncated: file ends before byte ${position + view.byteLength}`);
    got += bytesRead;
  }
}

/** Reads a whole small file (an index, a config) with a size bound, so a wrong path cannot exhaust memory. */
export async function readSmallFile(path: string, maxBytes: number): Promise<Buffer> {
  const { file, size } = await openRegularFile(path);
  try {
    if (size > maxBytes) throw checkpointError(path, `is ${size} bytes, over the ${maxBytes}-byte limit for this kind of file`);
    const bytes = Buffer.alloc(size);
    await readExactly(file, bytes, 0, path);
    return bytes;
  } finally {
    await file.close();
  }
}

/** Parses JSON text (UTF-8, strictly) or says in one line why it is not. */
export function parseJson(bytes: Uint8Array, path: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw checkpointError(path, `${what} is not valid JSON (${firstLine(err)})`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0];
