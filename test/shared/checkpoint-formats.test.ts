/**
 * The readers beyond a single F32 safetensors file: Hugging Face folders
 * (sharded with an index, the head in the second file, BF16; a single
 * model.safetensors; no index), .npy heads (F32 and F16, bias from a second
 * .npy), the choice of tensor (tied embeddings), the inventory `inspect`
 * prints, the fingerprint across containers, and every bad checkpoint.
 * Values are checked against the rounded weights decoded independently
 * (test/helpers/checkpoint-writers.ts), never against the reader's own code.
 */
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HeadSource } from "../../shared/checkpoint/head-source.js";
import { inspectCheckpoint } from "../../shared/checkpoint/inventory.js";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { ClassRange, splitAll } from "../../shared/ranges.js";
import { encodeNpy, fromBf16, fromF16, toBf16, toF16, uint16Le, writeHfFolder, writeNpy } from "../helpers/checkpoint-writers.js";
import { invalidArgument } from "../helpers/expect-errors.js";
import { float32Bytes, frame, writeSafetensors } from "../helpers/safetensors-writer.js";

const V = 41;
const D = 6;
const raw = Float64Array.from({ length: V * D }, (_, i) => Math.sin(i * 1.37) * 3 + (i % 7) / 9);
const bf16 = toBf16(raw);
const f16 = Uint16Array.from(raw, toF16);
const biasF32 = Float32Array.from({ length: V }, (_, i) => Math.cos(i) * 2);

let dir: string;
let count = 0;
const opened: HeadSource[] = [];
const fresh = () => join(dir, `case-${count++}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shardmax-formats-"));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function open(path: string, options?: { tensor?: string; bias?: string; chunkBytes?: number }): Promise<HeadSource> {
  const head = await openHead(path, options);
  opened.push(head);
  return head;
}

/** The one-line message a refused checkpoint gives. */
const rejection = async (promise: Promise<unknown>): Promise<string> => (await invalidArgument(promise)).message;

/** A sharded BF16 folder: embeddings and a layer in file 1, the head and the norm in file 2. */
async function bf16Folder(path = fresh()): Promise<string> {
  return writeHfFolder(path, [
    {
      "model.embed_tokens.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(toBf16(raw.map((x) => -x))) },
      "model.layers.0.mlp.up_proj.weight": { shape: [4, D], dtype: "BF16", bytes: uint16Le(new Uint16Array(4 * D)) },
    },
    {
      "lm_head.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(bf16) },
      "model.norm.weight": { shape: [D], dtype: "BF16", bytes: uint16Le(new Uint16Array(D)) },
    },
  ]);
}

describe("Hugging Face folder", () => {
  it("finds lm_head.weight through the index in the second file and widens BF16 exactly", async () => {
    const head = await open(await bf16Folder(), { chunkBytes: 10 });
    expect(head.description).toMatchObject({ vocabSize: V, dim: D, dtype: "BF16", weightTensor: "lm_head.weight", biasTensor: null });
    for (const range of [ClassRange.of(0, V), ...splitAll(V, 3)]) {
      const { weight, bias } = await head.readRows(range);
      expect(bias).toBeNull();
      expect(Array.from(weight)).toEqual(Array.from(bf16.subarray(range.start * D, range.end * D), fromBf16));
    }
  });

  it("serves the tied embeddings with --tensor, and tells the user to when lm_head.weight is absent", async () => {
    const path = fresh();
    await writeHfFolder(path, [
      { "model.embed_tokens.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(bf16) } },
      { "model.norm.weight": { shape: [D], dtype: "BF16", bytes: uint16Le(new Uint16Array(D)) } },
    ]);
    expect(await rejection(open(path))).toMatch(
      /no tensor "lm_head\.weight": this model ties its output head to the input embeddings "model\.embed_tokens\.weight"; serve them with --tensor model\.embed_tokens\.weight/,
    );
    const head = await open(path, { tensor: "model.embed_tokens.weight" });
    expect((await head.readRows(ClassRange.of(5, 6))).weight[0]).toBe(fromBf16(bf16[5 * D]!));
  });

  it("reads a folder holding model.safetensors, and one with other .safetensors files and no index", async () => {
    for (const name of ["model.safetensors", "consolidated.safetensors"]) {
      const path = fresh();
      await mkdir(path);
      await writeSafetensors(join(path, name), { "lm_head.weight": { shape: [V, D], dtype: "F16", bytes: uint16Le(f16) } });
      const head = await open(path);
      expect(Array.from((await head.readRows(ClassRange.of(0, V))).weight)).toEqual(Array.from(f16, fromF16));
    }
  });

  it("the fingerprint depends on the head's bytes, not on the container or the file split", async () => {
    const single = `${fresh()}.safetensors`;
    await writeSafetensors(single, { "lm_head.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(bf16) } });
    const folder = await bf16Folder();
    const [a, b] = await Promise.all([open(single), open(folder)]);
    expect(await a.fingerprint()).toBe(await b.fingerprint());
    const changed = Uint16Array.from(bf16);
    changed[V * D - 1] ^= 1;
    const other = `${fresh()}.safetensors`;
    await writeSafetensors(other, { "lm_head.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(changed) } });
    expect(await (await open(other)).fingerprint()).not.toBe(await a.fingerprint());
  });
});

describe(".npy", () => {
  it("reads F32 with a bias .npy, and F16, exactly", async () => {
    const weight32 = Float32Array.from(raw);
    const w = await writeNpy(`${fresh()}.npy`, "<f4", [V, D], float32Bytes(weight32));
    const b = await writeNpy(`${fresh()}.npy`, "<f4", [V], float32Bytes(biasF32));
    const head = await open(w, { bias: b, chunkBytes: 8 });
    expect(head.description).toMatchObject({ vocabSize: V, dim: D, dtype: "F32" });
    const slice = await head.readRows(ClassRange.of(7, 30));
    expect(slice.weight).toEqual(weight32.subarray(7 * D, 30 * D));
    expect(slice.bias).toEqual(biasF32.subarray(7, 30));
    const half = await open(await writeNpy(`${fresh()}.npy`, "<f2", [V, D], uint16Le(f16)));
    expect(Array.from((await half.readRows(ClassRange.of(0, V))).weight)).toEqual(Array.from(f16, fromF16));
  });

  it("has the same fingerprint as a safetensors file of the same bytes", async () => {
    const weight32 = Float32Array.from(raw);
    const npy = await open(await writeNpy(`${fresh()}.npy`, "<f4", [V, D], float32Bytes(weight32)));
    const st = `${fresh()}.safetensors`;
    await writeSafetensors(st, { "lm_head.weight": { shape: [V, D], data: weight32 } });
    expect(await npy.fingerprint()).toBe(await (await open(st)).fingerprint());
  });

  it("reads format version 2 headers", async () => {
    const path = `${fresh()}.npy`;
    await writeFile(path, encodeNpy("<f4", [V, D], float32Bytes(Float32Array.from(raw)), { version: 2 }));
    expect((await open(path)).description.vocabSize).toBe(V);
  });
});

describe("inspect inventory", () => {
  it("lists every tensor with dtype, shape and file, and marks heads and tied embeddings", async () => {
    const path = await bf16Folder();
    const inventory = await inspectCheckpoint(path);
    expect(inventory).toMatchObject({ format: "hf-folder", layout: "index" });
    const byName = Object.fromEntries(inventory.tensors.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(["lm_head.weight", "model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"]);
    expect(byName["lm_head.weight"]).toMatchObject({ dtype: "BF16", shape: [V, D], role: "head" });
    expect(byName["lm_head.weight"]!.file).toMatch(/model-00002-of-00002\.safetensors$/);
    expect(byName["model.embed_tokens.weight"]).toMatchObject({ role: "tied-embedding" });
    expect(byName["model.norm.weight"]!.role).toBeNull();
    expect(inventory.served).toEqual({ ok: true, weight: "lm_head.weight", bias: null, dtype: "BF16", vocabSize: V, dim: D });
  });

  it("says why the default would be refused, and lists tensors of unserved dtypes", async () => {
    const path = `${fresh()}.safetensors`;
    await writeSafetensors(path, {
      "transformer.wte.weight": { shape: [V, D], data: Float32Array.from(raw) },
      step: { shape: [1], dtype: "I64", bytes: new Uint8Array(8) },
    });
    const inventory = await inspectCheckpoint(path);
    expect(inventory.tensors.map((t) => [t.name, t.dtype, t.role])).toEqual([
      ["transformer.wte.weight", "F32", "tied-embedding"],
      ["step", "I64", null],
    ]);
    expect(inventory.served).toMatchObject({ ok: false, error: expect.stringContaining("--tensor transformer.wte.weight") });
  });
});

describe("bias choice", () => {
  it("takes <tensor>.bias, then final_logits_bias [1, V], and a named bias must exist", async () => {
    const path = `${fresh()}.safetensors`;
    await writeSafetensors(path, {
      "embed_out.weight": { shape: [V, D], data: Float32Array.from(raw) },
      "embed_out.bias": { shape: [V], data: biasF32 },
      final_logits_bias: { shape: [1, V], data: biasF32.map((x) => -x) },
    });
    expect((await open(path, { tensor: "embed_out.weight" })).description.biasTensor).toBe("embed_out.bias");
    const marian = await open(path, { tensor: "embed_out.weight", bias: "final_logits_bias" });
    expect((await marian.readRows(ClassRange.of(2, 3))).bias![0]).toBe(-biasF32[2]!);
    expect(await rejection(open(path))).toMatch(/the head looks like "embed_out\.weight": serve it with --tensor embed_out\.weight/);
    expect(await rejection(open(path, { tensor: "embed_out.weight", bias: "embed_out.biass" }))).toContain(
      'no bias tensor "embed_out.biass"; available: embed_out.bias',
    );
  });
});

describe("bad checkpoints: one line each, naming the file", () => {
  it("missing file, and a folder without weights (with a hint for PyTorch files)", async () => {
    expect(await rejection(open(join(dir, "absent.safetensors")))).toMatch(/absent\.safetensors: no such file/);
    const empty = fresh();
    await mkdir(empty);
    await writeFile(join(empty, "pytorch_model.bin"), "x");
    expect(await rejection(open(empty))).toMatch(/folder has no weights.*PyTorch pickle files such as pytorch_model\.bin are not read/);
  });

  it("unknown tensor, listing the nearest names", async () => {
    expect(await rejection(open(await bf16Folder(), { tensor: "lm_head.weigth" }))).toMatch(/no tensor "lm_head\.weigth"; available: lm_head\.weight, /);
  });

  it("truncated file in a folder, naming the shard file", async () => {
    const path = await bf16Folder();
    await truncate(join(path, "model-00002-of-00002.safetensors"), 200);
    expect(await rejection(open(path))).toMatch(/model-00002-of-00002\.safetensors: truncated/);
  });

  it("header length beyond the file, or over the bound, and malformed header JSON", async () => {
    const data = new Uint8Array(8);
    const header = JSON.stringify({ "lm_head.weight": { dtype: "F32", shape: [1, 2], data_offsets: [0, 8] } });
    for (const [bytes, message] of [
      [frame(header, data, 1000n), /header length 1000 reaches beyond the file size/],
      [frame(header, data, 2n ** 62n), /header length \d+ is over the \d+-byte limit/],
      [frame("{not json", data), /header is not valid JSON/],
    ] as const) {
      const path = `${fresh()}.safetensors`;
      await writeFile(path, bytes);
      expect(await rejection(open(path))).toMatch(message);
    }
  });

  it("unsupported dtype, in safetensors and in .npy", async () => {
    const path = `${fresh()}.safetensors`;
    await writeSafetensors(path, { "lm_head.weight": { shape: [2, 2], dtype: "F64", bytes: new Uint8Array(32) } });
    expect(await rejection(open(path))).toMatch(/tensor "lm_head\.weight" has dtype F64; supported: F32, F16, BF16/);
    const npy = await writeNpy(`${fresh()}.npy`, "<f8", [2, 2], new Uint8Array(32));
    expect(await rejection(open(npy))).toMatch(/dtype F64; a \.npy head must be '<f4' \(float32\) or '<f2' \(float16\)/);
    const bigEndian = await writeNpy(`${fresh()}.npy`, ">f4", [2, 2], new Uint8Array(16));
    expect(await rejection(open(bigEndian))).toMatch(/dtype >f4/);
  });

  it("range beyond V", async () => {
    const head = await open(await bf16Folder());
    expect(await rejection(head.readRows(ClassRange.of(30, V + 1)))).toContain(`beyond V=${V}`);
  });

  it("index naming a missing shard file, a file outside the folder, or a tensor its file lacks", async () => {
    const path = await bf16Folder();
    await rm(join(path, "model-00001-of-00002.safetensors"));
    expect(await rejection(open(path))).toMatch(/model\.safetensors\.index\.json: names model-00001-of-00002\.safetensors, which is missing/);
    const escaping = await writeHfFolder(fresh(), [{ a: { shape: [1], data: new Float32Array(1) } }], {
      index: { weight_map: { "lm_head.weight": "../x.safetensors" } },
    });
    expect(await rejection(open(escaping))).toMatch(/outside the folder/);
    const lying = await writeHfFolder(fresh(), [{ a: { shape: [1], data: new Float32Array(1) } }], {
      index: { weight_map: { "lm_head.weight": "model-00001-of-00001.safetensors" } },
    });
    expect(await rejection(open(lying))).toMatch(/puts "lm_head\.weight" in model-00001-of-00001\.safetensors, but that file has no such tensor/);
    const noMap = await writeHfFolder(fresh(), [{ a: { shape: [1], data: new Float32Array(1) } }], { index: { metadata: {} } });
    expect(await rejection(open(noMap))).toMatch(/no "weight_map" object/);
  });

  it(".npy: Fortran order, wrong rank, truncated data, bad magic, oversized header", async () => {
    const fortran = `${fresh()}.npy`;
    await writeFile(fortran, encodeNpy("<f4", [2, 2], new Uint8Array(16), { fortran: true }));
    expect(await rejection(open(fortran))).toMatch(/Fortran \(column-major\) order/);
    expect(await rejection(open(await writeNpy(`${fresh()}.npy`, "<f4", [8], new Uint8Array(32))))).toMatch(/shape \[8\]; expected rank 2/);
    expect(await rejection(open(await writeNpy(`${fresh()}.npy`, "<f4", [4, 4], new Uint8Array(60))))).toMatch(/truncated: F32 \[4,4\] needs 64 bytes/);
    const notNpy = `${fresh()}.npy`;
    await writeFile(notNpy, "hello, world");
    expect(await rejection(open(notNpy))).toMatch(/is not a \.npy file/);
    const huge = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]), Buffer.from([0, 0, 0, 0x40]), Buffer.alloc(16)]);
    const hugePath = `${fresh()}.npy`;
    await writeFile(hugePath, huge);
    expect(await rejection(open(hugePath))).toMatch(/header length \d+ is over the \d+-byte limit/);
  });

  it("a bias of the wrong shape, and --tensor on a .npy", async () => {
    const w = await writeNpy(`${fresh()}.npy`, "<f4", [V, D], float32Bytes(Float32Array.from(raw)));
    const b = await writeNpy(`${fresh()}.npy`, "<f4", [V - 1], new Uint8Array((V - 1) * 4));
    expect(await rejection(open(w, { bias: b }))).toMatch(new RegExp(`shape \\[${V - 1}\\]; expected rank 1 \\[${V}\\]`));
    expect(await rejection(open(w, { tensor: "x" }))).toMatch(/a \.npy file holds one array/);
  });
});
