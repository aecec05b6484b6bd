/**
 * What `shardmax inspect` shows: every tensor of a checkpoint (name, dtype,
 * shape, file), which ones look like an output head, and what `shardmax
 * shard` would serve from it by default — or the one-line reason it would
 * refuse.
 */
import { parseBuiltinSpec } from "./builtin-head.js";
import { checkFiniteHead } from "./finite-scan.js";
import { type TensorRole, tensorRole } from "./head-choice.js";
import { type FolderLayout, listFolderTensors } from "./hf-folder.js";
import { readNpyHeader } from "./npy-header.js";
import { type CheckpointFormat, detectFormat, type OpenHeadOptions, openHead } from "./open-head.js";
import { readSafetensorsHeader } from "./safetensors-header.js";
import type { TensorInfo } from "./tensor-info.js";

export interface InventoryEntry extends TensorInfo {
  readonly role: TensorRole | null;
}

export type Served =
  | { readonly ok: true; readonly weight: string; readonly bias: string | null; readonly dtype: string; readonly vocabSize: number; readonly dim: number }
  | { readonly ok: false; readonly error: string };

export interface Inventory {
  readonly path: string;
  readonly format: CheckpointFormat;
  /** For folders: found through the index, model.safetensors, or a scan of every .safetensors file. */
  readonly layout: FolderLayout["how"] | null;
  readonly tensors: readonly InventoryEntry[];
  readonly served: Served;
}

export async function inspectCheckpoint(path: string, options: OpenHeadOptions = {}): Promise<Inventory> {
  const format = await detectFormat(path);
  let layout: FolderLayout["how"] | null = null;
  let tensors: TensorInfo[];
  switch (format) {
    case "builtin": {
      const { vocabSize, dim } = parseBuiltinSpec(path);
      const generated = { file: "(generated)", position: 0 };
      tensors = [
        { ...generated, name: "lm_head.weight", dtype: "F32", shape: [vocabSize, dim], byteLength: vocabSize * dim * 4 },
        { ...generated, name: "lm_head.bias", dtype: "F32", shape: [vocabSize], byteLength: vocabSize * 4 },
      ];
      break;
    }
    case "hf-folder": {
      const listed = await listFolderTensors(path);
      layout = listed.layout.how;
      tensors = listed.tensors;
      break;
    }
    case "npy":
      tensors = [await readNpyHeader(path)];
      break;
    case "safetensors":
      tensors = await readSafetensorsHeader(path);
      break;
  }
  // A .npy holds one array: the head itself when it is a matrix.
  const role = (t: TensorInfo) => (format === "npy" ? (t.shape.length === 2 ? "head" : null) : tensorRole(t.name, t.shape));
  return { path, format, layout, tensors: tensors.map((t) => ({ ...t, role: role(t) })), served: await served(path, options) };
}

async function served(path: string, options: OpenHeadOptions): Promise<Served> {
  try {
    const head = await openHead(path, options);
    // Reads every weight: a NaN or ∞ anywhere would make the shard refuse to load.
    await checkFiniteHead(head).finally(() => head.close());
    const { weightTensor, biasTensor, dtype, vocabSize, dim } = head.description;
    return { ok: true, weight: weightTensor, bias: biasTensor, dtype, vocabSize, dim };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
