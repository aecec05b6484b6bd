/**
 * The header of one safetensors file: `u64 LE header length N`, then `N`
 * bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__"?: {...}}`; data offsets are relative to byte `8 + N`.
 *
 * Every tensor is checked against the file (offsets consistent with dtype and
 * shape, data inside the file) so a reader can trust the spans it is given.
 */
import { elementBytes } from "./dtypes.js";
import { checkpointError, isCount, isPlainObject, openRegularFile, parseJson, readExactly, type TensorInfo } from "./tensor-info.js";

/** A real header is a few hundred bytes per tensor; a larger length is corruption, not a model. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** The tensors of `path` in header order, `__metadata__` left out. */
export async function readSafetensorsHeader(path: string): Promise<TensorInfo[]> {
  const { file, size } = await openRegularFile(path);
  try {
    if (size < 8) throw checkpointError(path, `truncated: ${size} bytes is too short for a safetensors header`);
    const prefix = Buffer.alloc(8);
    await readExactly(file, prefix, 0, path);
    const length = prefix.readBigUInt64LE(0);
    if (length > BigInt(MAX_HEADER_BYTES)) throw checkpointError(path, `header length ${length} is over the ${MAX_HEADER_BYTES}-byte limit`);
    if (8n + length > BigInt(size)) throw checkpointError(path, `header length ${length} reaches beyond the file size ${size}`);
    const bytes = Buffer.alloc(Number(length));
    await readExactly(file, bytes, 8, path);
    const parsed = parseJson(bytes, path, "header");
    if (!isPlainObject(parsed)) throw checkpointError(path, "header is not a JSON object");
    const dataStart = 8 + bytes.length;
    return Object.entries(parsed)
      .filter(([name]) => name !== "__metadata__")
      .map(([name, raw]) => tensorInfo(path, name, raw, dataStart, size));
  } finally {
    await file.close();
  }
}

function tensorInfo(path: string, name: string, raw: unknown, dataStart: number, fileSize: number): TensorInfo {
  const fail = (reason: string) => checkpointError(path, `tensor "${name}" ${reason}`);
  if (!isPlainObject(raw)) throw fail("is not a JSON object in the header");
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== "string") throw fail(`has dtype ${JSON.stringify(dtype)}; expected a dtype name such as "F32"`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`has a malformed shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw fail(`has malformed data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const bytes = elementBytes(dtype);
  if (bytes !== undefined) {
    const needed = (shape as number[]).reduce((a, b) => a * b, bytes);
    if (end - begin !== needed) throw fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} [${shape}] needs ${needed}`);
  }
  if (dataStart + end > fileSize) throw checkpointError(path, `truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${fileSize}`);
  return { name, dtype, shape: shape as number[], file: path, position: dataStart + begin, byteLength: end - begin };
}
