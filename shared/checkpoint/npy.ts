/**
 * A head saved with NumPy: W as a 2-D C-order `.npy` (`<f4` or `<f2`), and
 * optionally b as a second 1-D `.npy` named by the bias option (a path here,
 * where the other formats take a tensor name).
 */

import { checkHead } from "./head-choice.js";
import type { HeadSource } from "./head-source.js";
import { readNpyHeader } from "./npy-header.js";
import { TensorHead } from "./tensor-head.js";
import { checkpointError, type TensorInfo } from "./tensor-info.js";

export interface NpyOptions {
  /** Not meaningful for .npy (one array per file); refused when given so a mistake does not pass silently. */
  tensor?: string;
  /** Path of the bias .npy. */
  bias?: string;
  chunkBytes?: number;
}

export async function openNpy(path: string, options: NpyOptions = {}): Promise<HeadSource> {
  if (options.tensor !== undefined) throw checkpointError(path, "a .npy file holds one array, so there is no tensor to name; drop the tensor option");
  const weight = served(await readNpyHeader(path));
  const bias = options.bias === undefined ? null : served(await readNpyHeader(options.bias));
  checkHead(weight, bias, path);
  return new TensorHead(weight, bias, path, options.chunkBytes);
}

/** BF16 has no NumPy descr, so .npy heads are F32 or F16; say it in NumPy's terms. */
function served(array: TensorInfo): TensorInfo {
  if (array.dtype !== "F32" && array.dtype !== "F16") {
    throw checkpointError(array.file, `array has dtype ${array.dtype}; a .npy head must be '<f4' (float32) or '<f2' (float16), little-endian`);
  }
  return array;
}
