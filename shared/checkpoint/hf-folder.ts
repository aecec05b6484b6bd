/**
 * A Hugging Face checkpoint folder: `model.safetensors`, or sharded
 * `model-0000X-of-0000N.safetensors` files with `model.safetensors.index.json`
 * (`{"weight_map": {tensor name: file name}}`). The tensor is found through
 * the index, so only the headers of the files holding W and b are read; a
 * folder with other .safetensors files and no index has all headers scanned.
 */
import { readdir, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { openChosenHead, type TensorNames } from "./head-choice.js";
import type { HeadSource } from "./head-source.js";
import { readSafetensorsHeader } from "./safetensors-header.js";
import { checkpointError, ioReason, isPlainObject, parseJson, readSmallFile, type TensorInfo } from "./tensor-info.js";

export const INDEX_FILE = "model.safetensors.index.json";
export const SINGLE_FILE = "model.safetensors";
/** Indexes of the largest public models are a few MB; 64 MiB leaves room and bounds a wrong file. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** Where each tensor of a folder lives, from the index or from the files' headers. */
export interface FolderLayout {
  /** How the layout was found, for `inspect`. */
  readonly how: "index" | "single" | "scan";
  /** Tensor name → absolute path of the file holding it. */
  readonly files: ReadonlyMap<string, string>;
  /** Already-read headers (single file and scan); an index needs them read on demand. */
  readonly known: ReadonlyMap<string, TensorInfo>;
}

export async function openHfFolder(dir: string, options: TensorNames & { chunkBytes?: number } = {}): Promise<HeadSource> {
  const layout = await folderLayout(dir);
  return openChosenHead([...layout.files.keys()], (name) => locate(dir, layout, name), options, dir);
}

/** Every tensor of the folder with its dtype, shape and file (reads every header). */
export async function listFolderTensors(dir: string): Promise<{ layout: FolderLayout; tensors: TensorInfo[] }> {
  const layout = await folderLayout(dir);
  const byFile = new Map<string, TensorInfo[]>();
  for (const file of new Set(layout.files.values())) byFile.set(file, await readSafetensorsHeader(file));
  const tensors = [...layout.files].map(([name, file]) => byFile.get(file)!.find((t) => t.name === name) ?? missingInFile(dir, name, file));
  return { layout, tensors };
}

export async function folderLayout(dir: string): Promise<FolderLayout> {
  const entries = await readdir(dir).catch((err: unknown) => {
    throw checkpointError(dir, ioReason(err), err);
  });
  if (entries.includes(INDEX_FILE)) return indexLayout(dir);
  const files = entries.filter((e) => e.endsWith(".safetensors")).sort();
  if (files.length === 0) throw checkpointError(dir, noWeights(entries));
  // model.safetensors alone is the common case; otherwise every file is scanned.
  const chosen = files.includes(SINGLE_FILE) ? [SINGLE_FILE] : files;
  const known = new Map<string, TensorInfo>();
  for (const file of chosen) {
    for (const tensor of await readSafetensorsHeader(join(dir, file))) {
      const earlier = known.get(tensor.name);
      if (earlier)
        throw checkpointError(dir, `tensor "${tensor.name}" is in both ${relative(dir, earlier.file)} and ${file}; add a ${INDEX_FILE} to say which to use`);
      known.set(tensor.name, tensor);
    }
  }
  const how = chosen.length === 1 && chosen[0] === SINGLE_FILE ? "single" : "scan";
  return { how, files: new Map([...known].map(([name, t]) => [name, t.file])), known };
}

async function indexLayout(dir: string): Promise<FolderLayout> {
  const indexPath = join(dir, INDEX_FILE);
  const index = parseJson(await readSmallFile(indexPath, MAX_INDEX_BYTES), indexPath, "the index");
  const weightMap = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(weightMap)) throw checkpointError(indexPath, `has no "weight_map" object (tensor name → file name)`);
  const root = resolve(dir);
  const files = new Map<string, string>();
  const checked = new Map<string, Promise<void>>();
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== "string" || file === "") throw checkpointError(indexPath, `maps "${name}" to ${JSON.stringify(file)}, not a file name`);
    const path = resolve(root, file);
    // An index is data from the checkpoint: it must not point outside its folder.
    if (!path.startsWith(root + sep)) throw checkpointError(indexPath, `maps "${name}" to ${JSON.stringify(file)}, outside the folder`);
    files.set(name, path);
    if (!checked.has(path)) checked.set(path, checkShardFile(indexPath, file, path));
  }
  await Promise.all(checked.values());
  if (files.size === 0) throw checkpointError(indexPath, `has an empty "weight_map"`);
  return { how: "index", files, known: new Map() };
}

async function checkShardFile(indexPath: string, file: string, path: string): Promise<void> {
  const info = await stat(path).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw checkpointError(indexPath, code === "ENOENT" ? `names ${file}, which is missing` : `names ${file}, which cannot be read (${ioReason(err)})`, err);
  });
  if (!info.isFile()) throw checkpointError(indexPath, `names ${file}, which is not a regular file`);
}

/** The header entry of `name`, reading its file's header only when the layout came from an index. */
async function locate(dir: string, layout: FolderLayout, name: string): Promise<TensorInfo> {
  const known = layout.known.get(name);
  if (known) return known;
  const file = layout.files.get(name)!;
  return (await readSafetensorsHeader(file)).find((t) => t.name === name) ?? missingInFile(dir, name, file);
}

function missingInFile(dir: string, name: string, file: string): never {
  throw checkpointError(dir, `${INDEX_FILE} puts "${name}" in ${relative(dir, file)}, but that file has no such tensor`);
}

/** Why a folder has nothing to serve, with the fix when the weights are in a format we do not read. */
function noWeights(entries: readonly string[]): string {
  const base = `folder has no weights: no ${SINGLE_FILE}, no ${INDEX_FILE} and no other .safetensors file`;
  if (entries.some((e) => e.endsWith(".bin") || e.endsWith(".pt") || e.endsWith(".pth"))) {
    return `${base} (PyTorch pickle files such as pytorch_model.bin are not read: convert them to safetensors)`;
  }
  if (entries.some((e) => e.endsWith(".npy"))) return `${base} (for a .npy head, pass the .npy file itself)`;
  if (entries.some((e) => e.endsWith(".gguf"))) return `${base} (GGUF files are not read)`;
  return base;
}
