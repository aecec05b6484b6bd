/**
 * The header of a NumPy `.npy` file (format versions 1–3): the magic
 * `\x93NUMPY`, a version, a little-endian header length (u16 in v1, u32 in
 * v2/v3), then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (262144, 1024), }`;
 * the C-order array follows it directly.
 */
import { basename, extname } from "node:path";
import { checkpointError, openRegularFile, readExactly, type TensorInfo } from "./tensor-info.js";

export const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
/** numpy itself refuses headers over 10 000 bytes by default; 1 MiB leaves room and still stops garbage. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** descr → our dtype name; only little-endian floats are served, the rest are named for the error. */
const DESCR_DTYPES: Record<string, string> = {
  "<f4": "F32",
  "<f2": "F16",
  "<f8": "F64",
  "<i8": "I64",
  "<i4": "I32",
  "<i2": "I16",
  "|i1": "I8",
  "|u1": "U8",
  "|b1": "BOOL",
  "<u8": "U64",
  "<u4": "U32",
  "<u2": "U16",
};
const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U64: 8, U32: 4, U16: 2 };

/** The one array of a .npy file, named after the file ("head.npy" → "head"). */
export async function readNpyHeader(path: string): Promise<TensorInfo> {
  const { file, size } = await openRegularFile(path);
  const fail = (reason: string) => checkpointError(path, reason);
  try {
    if (size < 10) throw fail(`truncated: ${size} bytes is too short for a .npy header`);
    const prefix = Buffer.alloc(12);
    await readExactly(file, prefix.subarray(0, Math.min(12, size)), 0, path);
    if (!prefix.subarray(0, 6).equals(NPY_MAGIC)) throw fail("is not a .npy file (no \\x93NUMPY magic)");
    const major = prefix[6]!;
    if (major < 1 || major > 3) throw fail(`.npy format version ${major}.${prefix[7]} is not supported (1.0–3.0 are)`);
    const lengthBytes = major === 1 ? 2 : 4;
    const headerLength = major === 1 ? prefix.readUInt16LE(8) : prefix.readUInt32LE(8);
    const dataStart = 8 + lengthBytes + headerLength;
    if (headerLength > MAX_HEADER_BYTES) throw fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
    if (dataStart > size) throw fail(`header length ${headerLength} reaches beyond the file size ${size}`);
    const header = Buffer.alloc(headerLength);
    await readExactly(file, header, 8 + lengthBytes, path);
    const { descr, fortranOrder, shape } = parseHeaderDict(header.toString(major === 3 ? "utf8" : "latin1"), fail);
    if (fortranOrder) throw fail("is stored in Fortran (column-major) order; save it with np.save(path, np.ascontiguousarray(a))");
    const dtype = DESCR_DTYPES[descr] ?? descr;
    const elementBytes = ELEMENT_BYTES[dtype];
    const byteLength = elementBytes === undefined ? size - dataStart : shape.reduce((a, b) => a * b, elementBytes);
    if (dataStart + byteLength > size)
      throw fail(`truncated: ${dtype} [${shape}] needs ${byteLength} bytes after the header, the file has ${size - dataStart}`);
    return { name: basename(path, extname(path)), dtype, shape, file: path, position: dataStart, byteLength };
  } finally {
    await file.close();
  }
}

/** The three keys numpy writes, from its dict literal; anything else there is ignored. */
function parseHeaderDict(text: string, fail: (reason: string) => Error): { descr: string; fortranOrder: boolean; shape: number[] } {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") || !trimmed.endsWith("}")) throw fail(`header is not a Python dict literal: ${JSON.stringify(trimmed.slice(0, 80))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(trimmed)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(trimmed)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(trimmed)?.[1];
  if (descr === undefined) throw fail("header has no simple 'descr' (structured dtypes are not supported)");
  if (fortran === undefined) throw fail("header has no 'fortran_order'");
  if (shapeText === undefined) throw fail("header has no 'shape' tuple");
  const parts = shapeText
    .split(",")
    .map((s) => s.trim().replace(/L$/, ""))
    .filter((s) => s !== "");
  const shape = parts.map(Number);
  if (!parts.every((s) => /^\d+$/.test(s)) || !shape.every(Number.isSafeInteger)) throw fail(`header has a malformed shape (${shapeText})`);
  return { descr, fortranOrder: fortran === "True", shape };
}
