/**
 * Chooses the HeadSource for a `--weights` spec: "builtin:…" is the embedded
 * head; a folder is a Hugging Face checkpoint; a file is recognised by its
 * first bytes (the .npy magic, or a safetensors header length followed by
 * `{`), so the kind is detected, never flagged.
 */
import { open, stat } from "node:fs/promises";
import { extname } from "node:path";
import { openBuiltinHead } from "./builtin-head.js";
import type { HeadSource } from "./head-source.js";
import { openHfFolder } from "./hf-folder.js";
import { openNpy } from "./npy.js";
import { NPY_MAGIC } from "./npy-header.js";
import { openSafetensors } from "./safetensors.js";
import { checkpointError, ioReason } from "./tensor-info.js";

export interface OpenHeadOptions {
  /** Weight tensor name inside the checkpoint (default "lm_head.weight"). */
  tensor?: string;
  /** Bias: a tensor name (safetensors, folders) or the path of a second .npy (for a .npy head); when given it must exist. */
  bias?: string;
  /** Read granularity in bytes (tests shrink it). */
  chunkBytes?: number;
}

export type CheckpointFormat = "builtin" | "hf-folder" | "npy" | "safetensors";

export async function openHead(spec: string, options: OpenHeadOptions = {}): Promise<HeadSource> {
  const format = await detectFormat(spec);
  switch (format) {
    case "builtin":
      // A builtin head has fixed tensors; silently ignoring a name would hide a mistake.
      if (options.tensor !== undefined || options.bias !== undefined) {
        throw checkpointError(spec, "a builtin head has no named tensors; drop the tensor/bias options");
      }
      return openBuiltinHead(spec);
    case "hf-folder":
      return openHfFolder(spec, options);
    case "npy":
      return openNpy(spec, options);
    case "safetensors":
      return openSafetensors(spec, options);
  }
}

export async function detectFormat(spec: string): Promise<CheckpointFormat> {
  if (spec.startsWith("builtin:")) return "builtin";
  const info = await stat(spec).catch((err: unknown) => {
    throw checkpointError(spec, ioReason(err), err);
  });
  if (info.isDirectory()) return "hf-folder";
  if (!info.isFile()) throw checkpointError(spec, "is not a regular file or a folder");
  const head = await firstBytes(spec, 9);
  if (head.subarray(0, 6).equals(NPY_MAGIC)) return "npy";
  if (extname(spec).toLowerCase() === ".npy") throw checkpointError(spec, "is not a .npy file (no \\x93NUMPY magic)");
  // safetensors: a little-endian u64 header length, then a JSON object. A short or
  // odd file named .safetensors still goes to that reader, which says what is wrong.
  if (extname(spec).toLowerCase() === ".safetensors") return "safetensors";
  if (head.length === 9 && head.readBigUInt64LE(0) < 2n ** 32n && head[8] === 0x7b) return "safetensors";
  throw checkpointError(
    spec,
    "unrecognised format; expected a .safetensors file, a Hugging Face checkpoint folder, a .npy file, or builtin:default / builtin:VxD",
  );
}

async function firstBytes(path: string, count: number): Promise<Buffer> {
  const file = await open(path, "r").catch((err: unknown) => {
    throw checkpointError(path, ioReason(err), err);
  });
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await file.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
