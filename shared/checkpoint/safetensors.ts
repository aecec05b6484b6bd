/**
 * A single safetensors file: the header lists every tensor with its dtype,
 * shape and byte span; the head is chosen by name and read row range by row
 * range (see tensor-head.ts).
 */

import { openChosenHead, type TensorNames } from "./head-choice.js";
import type { HeadSource } from "./head-source.js";
import { readSafetensorsHeader } from "./safetensors-header.js";

export interface SafetensorsOptions extends TensorNames {
  /** Read granularity; tests make it tiny to exercise chunk boundaries. */
  chunkBytes?: number;
}

export async function openSafetensors(path: string, options: SafetensorsOptions = {}): Promise<HeadSource> {
  const tensors = new Map((await readSafetensorsHeader(path)).map((t) => [t.name, t]));
  return openChosenHead([...tensors.keys()], async (name) => tensors.get(name)!, options, path);
}
