/**
 * Chooses the HeadSource for a `--weights` spec: "builtin:…" is the embedded
 * head; anything else is a path whose format is recognised by extension, then
 * by its first bytes. A new format (HF sharded folder, .npy) is one more case
 * in `detectFormat` and one more reader.
 */
import { open, stat } from "node:fs/promises";
import { extname } from "node:path";
import { ShardmaxError } from "../errors.js";
import { openBuiltinHead } from "./builtin-head.js";
import type { HeadSource } from "./head-source.js";
import { openSafetensors } from "./safetensors.js";

export interface OpenHeadOptions {
  /** Weight tensor name inside the checkpoint (default "lm_head.weight"). */
  tensor?: string;
  /** Bias tensor name; when given it must exist. */
  bias?: string;
}

type Format = "safetensors";

export async function openHead(spec: string, options: OpenHeadOptions = {}): Promise<HeadSource> {
  if (spec.startsWith("builtin:")) {
    // A builtin head has fixed tensors; silently ignoring a name would hide a mistake.
    if (options.tensor !== undefined || options.bias !== undefined) {
      throw fail(spec, "a builtin head has no named tensors; drop the tensor/bias options");
    }
    return openBuiltinHead(spec);
  }
  const format = await detectFormat(spec);
  switch (format) {
    case "safetensors":
      return openSafetensors(spec, options);
  }
}

async function detectFormat(path: string): Promise<Format> {
  const isDirectory = (await stat(path).catch((err) => ioFail(path, err))).isDirectory();
  if (isDirectory) throw fail(path, "is a directory; sharded checkpoint folders are not supported yet, pass a .safetensors file");
  if (extname(path).toLowerCase() === ".safetensors") return "safetensors";
  const head = await firstBytes(path, 9).catch((err) => ioFail(path, err));
  if (head.subarray(0, 6).equals(NPY_MAGIC)) throw fail(path, ".npy files are not supported yet; convert to safetensors");
  // safetensors: a little-endian u64 header length, then a JSON object.
  if (head.length === 9 && head.readBigUInt64LE(0) < 2n ** 32n && head[8] === 0x7b) return "safetensors";
  throw fail(path, "unrecognised format; expected a .safetensors file or builtin:default / builtin:VxD");
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

async function firstBytes(path: string, count: number): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await file.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function ioFail(path: string, err: unknown): never {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(err)})`;
  throw new ShardmaxError("INVALID_ARGUMENT", `weights ${path}: ${reason}`, { cause: err });
}

function fail(spec: string, reason: string): ShardmaxError {
  return new ShardmaxError("INVALID_ARGUMENT", `weights ${spec}: ${reason}`);
}
