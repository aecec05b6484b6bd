import { open as fsOpen, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { HeadSource } from "../../shared/checkpoint/head-source.js";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { openSafetensors, type SafetensorsOptions } from "../../shared/checkpoint/safetensors.js";
import { ClassRange, splitAll } from "../../shared/ranges.js";
import { invalidArgument as rejection } from "../helpers/expect-errors.js";
import { encodeSafetensors, frame, type TensorInput, uint16Bytes, writeSafetensors } from "../helpers/safetensors-writer.js";

const V = 37;
const D = 5;

/** Distinct, irregular float32 values (negatives, fractions) so a misplaced element shows. */
function values(count: number, salt: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.fround(((i * 7919 + salt * 104729) % 1009) / 37 - 13.5));
}

const W = values(V * D, 1);
const B = values(V, 2);

let dir: string;
let fileCount = 0;
const opened: HeadSource[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shardmax-checkpoint-"));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((head) => head.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(tensors: Record<string, TensorInput>, metadata?: Record<string, string>): Promise<string> {
  const path = join(dir, `head-${fileCount++}.safetensors`);
  await writeSafetensors(path, tensors, metadata);
  return path;
}

async function writeBytes(bytes: Uint8Array, extension = ".safetensors"): Promise<string> {
  const path = join(dir, `raw-${fileCount++}${extension}`);
  await writeFile(path, bytes);
  return path;
}

async function openFile(path: string, options?: SafetensorsOptions): Promise<HeadSource> {
  const head = await openSafetensors(path, options);
  opened.push(head);
  return head;
}

async function open(spec: string, options?: { tensor?: string; bias?: string }): Promise<HeadSource> {
  const head = await openHead(spec, options);
  opened.push(head);
  return head;
}

/** Bit-for-bit equality (toEqual on large typed arrays is slow and blind to −0 vs +0 in some matchers). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const standardHead = (): Record<string, TensorInput> => ({
  "lm_head.weight": { shape: [V, D], data: W },
  "lm_head.bias": { shape: [V], data: B },
});

describe("safetensors rows", () => {
  const ranges = [[0, V], [0, 1], [V - 1, V], [10, 23], ...splitAll(V, 3).map((r) => [r.start, r.end]), ...splitAll(V, 8).map((r) => [r.start, r.end])];

  it.each(ranges)("rows [%i, %i) equal the written data exactly", async (start, end) => {
    const head = await openFile(await write(standardHead()));
    const slice = await head.readRows(ClassRange.of(start, end));
    expect(slice.weight).toEqual(W.subarray(start * D, end * D));
    expect(slice.bias).toEqual(B.subarray(start, end));
  });

  it("reads in chunks that do not align with rows, reporting progress up to the slice's bytes", async () => {
    const head = await openFile(await write(standardHead()), { chunkBytes: 12 });
    const progress: Array<[number, number]> = [];
    const slice = await head.readRows(ClassRange.of(3, 20), (done, total) => progress.push([done, total]));
    expect(slice.weight).toEqual(W.subarray(3 * D, 20 * D));
    expect(slice.bias).toEqual(B.subarray(3, 20));
    const total = 17 * (D + 1) * 4;
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.every(([, t]) => t === total)).toBe(true);
    expect(progress.map(([d]) => d)).toEqual([...progress.map(([d]) => d)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual([total, total]);
  });

  it("asks the file for only the bytes of the requested rows", async () => {
    const path = await write(standardHead());
    const head = await openFile(path);
    const probe = await fsOpen(path, "r");
    const fileHandlePrototype = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => unknown };
    await probe.close();
    const read = vi.spyOn(fileHandlePrototype, "read");
    try {
      await head.readRows(ClassRange.of(10, 12));
      expect(read.mock.calls.reduce((n, call) => n + (call[2] as number), 0)).toBe(2 * (D + 1) * 4);
    } finally {
      read.mockRestore();
    }
  });

  it("describes the head", async () => {
    const path = await write(standardHead());
    const head = await openFile(path);
    expect(head.description).toEqual({ vocabSize: V, dim: D, dtype: "F32", weightTensor: "lm_head.weight", biasTensor: "lm_head.bias", source: path });
  });

  it("has no bias when the file has none", async () => {
    const head = await openFile(await write({ "lm_head.weight": { shape: [V, D], data: W } }));
    expect(head.description.biasTensor).toBeNull();
    expect((await head.readRows(ClassRange.of(0, 4))).bias).toBeNull();
  });

  it("chooses weight and bias by name among extra tensors and __metadata__", async () => {
    const path = await write(
      {
        "model.embed_tokens.weight": { shape: [V, D], data: values(V * D, 7) },
        "head.w": { shape: [V, D], data: W },
        "lm_head.weight": { shape: [V, D], data: values(V * D, 8) },
        "head.b": { shape: [V], data: B },
      },
      { format: "pt", note: "extra tensors" },
    );
    const head = await openFile(path, { tensor: "head.w", bias: "head.b" });
    const slice = await head.readRows(ClassRange.of(5, 30));
    expect(slice.weight).toEqual(W.subarray(5 * D, 30 * D));
    expect(slice.bias).toEqual(B.subarray(5, 30));
    expect((await openFile(path, { tensor: "head.w" })).description.biasTensor).toBeNull();
  });

  it("openHead recognises safetensors by content when the extension is different", async () => {
    const path = await writeBytes(encodeSafetensors(standardHead()), ".bin");
    const head = await open(path, { tensor: "lm_head.weight" });
    expect((await head.readRows(ClassRange.of(0, V))).weight).toEqual(W);
  });
});

describe("F16 and BF16", () => {
  it("widens BF16 exactly as the top 16 bits of a float32", async () => {
    const patterns = [0x3f80, 0xc000, 0x0001, 0x7f80, 0xff80, 0x8000, 0x3eaa, 0x4049];
    const head = await openFile(await write({ "lm_head.weight": { shape: [4, 2], dtype: "BF16", bytes: uint16Bytes(patterns) } }), { chunkBytes: 4 });
    const expected = patterns.map((p) => {
      const word = Buffer.alloc(4);
      word.writeUInt32LE((p << 16) >>> 0);
      return word.readFloatLE(0);
    });
    expect(head.description.dtype).toBe("BF16");
    expect(Array.from((await head.readRows(ClassRange.of(1, 4))).weight)).toEqual(expected.slice(2));
  });

  it("widens F16 exactly, including subnormals, infinities and NaN", async () => {
    const cases: Array<[number, number]> = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x7bff, 65504],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x8000, -0],
      [0x3555, Math.fround(0.333251953125)],
    ];
    const path = await write({
      "lm_head.weight": { shape: [5, 2], dtype: "F16", bytes: uint16Bytes(cases.map(([p]) => p)) },
      "lm_head.bias": { shape: [5], dtype: "F16", bytes: uint16Bytes([0x7e00, 0x3c00, 0, 0, 0]) },
    });
    const slice = await (await openFile(path)).readRows(ClassRange.of(0, 5));
    cases.forEach(([, want], i) => expect(Object.is(slice.weight[i], want)).toBe(true));
    expect(Number.isNaN(slice.bias![0])).toBe(true);
    expect(slice.bias![1]).toBe(1);
  });
});

describe("fingerprint", () => {
  it("is equal across separately opened sources, range reads and file layouts", async () => {
    const path = await write(standardHead());
    const [a, b] = [await openFile(path), await openFile(path, { chunkBytes: 8 })];
    await a.readRows(ClassRange.of(0, 10));
    await b.readRows(ClassRange.of(10, V));
    const print = await a.fingerprint();
    expect(print).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(await b.fingerprint()).toBe(print);
    const relaid = await write({ other: { shape: [3], data: values(3, 9) }, ...standardHead() }, { k: "v" });
    expect(await (await openFile(relaid)).fingerprint()).toBe(print);
  });

  it("changes with one byte of W, one byte of b, the shape, or the bias's presence", async () => {
    const bytes = encodeSafetensors(standardHead());
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    const flip = (at: number) => {
      const copy = Buffer.from(bytes);
      copy[at] ^= 1;
      return copy;
    };
    const prints = await Promise.all(
      [
        bytes,
        flip(dataStart + 77), // inside W
        flip(dataStart + V * D * 4 + 5), // inside b
        encodeSafetensors({ "lm_head.weight": { shape: [V * D, 1], data: W }, "lm_head.bias": { shape: [V * D], data: values(V * D, 2) } }),
        encodeSafetensors({ "lm_head.weight": { shape: [V, D], data: W } }),
      ].map(async (file) => (await openFile(await writeBytes(file))).fingerprint()),
    );
    expect(new Set(prints).size).toBe(prints.length);
  });
});

describe("builtin head", () => {
  it("is deterministic and a row is identical whichever range reads it", async () => {
    const [a, b] = [await open("builtin:1000x32"), await open("builtin:1000x32")];
    const whole = await a.readRows(ClassRange.of(0, 1000));
    const parts = await Promise.all(splitAll(1000, 3).map((r) => b.readRows(r)));
    expect(sameBits(concat(parts.map((p) => p.weight)), whole.weight)).toBe(true);
    expect(sameBits(concat(parts.map((p) => p.bias!)), whole.bias!)).toBe(true);
    expect((await b.readRows(ClassRange.of(417, 418))).weight).toEqual(whole.weight.subarray(417 * 32, 418 * 32));
    expect(await a.fingerprint()).toBe(await b.fingerprint());
  });

  it("builtin:default is 131072 × 256 with a Zipf-like bias and logits a few units wide", async () => {
    const head = await open("builtin:default");
    expect(head.description).toMatchObject({ vocabSize: 131072, dim: 256, dtype: "F32", source: "builtin:default" });
    const { weight, bias } = await head.readRows(ClassRange.of(131072 - 2000, 131072));
    const meanSquare = weight.reduce((s, w) => s + w * w, 0) / weight.length;
    expect(Math.sqrt(meanSquare * 256)).toBeGreaterThan(1.5); // logit std for h ~ N(0, I)
    expect(Math.sqrt(meanSquare * 256)).toBeLessThan(3);
    expect(bias![1999]).toBeCloseTo(-0.5 * Math.log(131072), 0);
    const first = (await head.readRows(ClassRange.of(0, 1))).bias![0];
    expect(Math.abs(first)).toBeLessThan(0.3);
  });

  it("reports progress and differs between specs", async () => {
    const head = await open("builtin:10000x8");
    const progress: number[] = [];
    await head.readRows(ClassRange.of(0, 10000), (done, total) => progress.push(done / total));
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe(1);
    const prints = await Promise.all(
      ["builtin:10000x8", "builtin:10000x16", "builtin:9999x8", "builtin:default"].map(async (s) => (await open(s)).fingerprint()),
    );
    expect(new Set(prints).size).toBe(4);
    const row = async (spec: string) => (await (await open(spec)).readRows(ClassRange.of(3, 4))).weight;
    expect(await row("builtin:10000x8")).not.toEqual((await row("builtin:10000x16")).subarray(0, 8));
  });

  it.each(["builtin:foo", "builtin:0x8", "builtin:8x", "builtin:8x0", "builtin:1x99999999"])("rejects %s", async (spec) => {
    expect((await rejection(openHead(spec))).message).toContain("builtin:VxD");
  });

  it("rejects tensor names and ranges beyond V", async () => {
    expect((await rejection(openHead("builtin:default", { tensor: "x" }))).message).toContain("no named tensors");
    const head = await open("builtin:100x4");
    expect((await rejection(head.readRows(ClassRange.of(90, 101)))).message).toContain("beyond V=100");
  });
});

describe("errors", () => {
  it("missing file", async () => {
    const err = await rejection(openHead(join(dir, "absent.safetensors")));
    expect(err.message).toContain("absent.safetensors");
    expect(err.message).toContain("no such file");
    expect((await rejection(openSafetensors(join(dir, "absent2")))).message).toContain("no such file");
  });

  it("unknown tensor lists available names, nearest first", async () => {
    const many = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`model.layers.${i}.w`, { shape: [1], data: values(1, i) }]));
    const path = await write({ ...many, "lm_head.weights": { shape: [V, D], data: W } });
    const err = await rejection(openFile(path));
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/no tensor "lm_head\.weight"; available: lm_head\.weights, /);
    expect(err.message).toContain("and 5 more");
    expect((await rejection(openFile(path, { tensor: "lm_head.weights", bias: "lm_head.bias" }))).message).toContain('no bias tensor "lm_head.bias"');
  });

  it.each([
    ["weight of rank 1", { "lm_head.weight": { shape: [V * D], data: W } }, "rank 2"],
    ["bias of rank 2", { "lm_head.weight": { shape: [V, D], data: W }, "lm_head.bias": { shape: [V, 1], data: B } }, "rank 1"],
    ["bias of the wrong length", { "lm_head.weight": { shape: [V, D], data: W }, "lm_head.bias": { shape: [V - 1], data: B.subarray(1) } }, "rank 1"],
    ["unsupported dtype", { "lm_head.weight": { shape: [2, 2], dtype: "I64", bytes: new Uint8Array(32) } }, "dtype"],
  ] as const)("%s", async (_, tensors, keyword) => {
    expect((await rejection(openFile(await write(tensors)))).message).toContain(keyword);
  });

  it("truncated files", async () => {
    const path = await write(standardHead());
    await truncate(path, (await readFile(path)).length - 3);
    expect((await rejection(openFile(path))).message).toContain("truncated");
    expect((await rejection(openFile(await writeBytes(Buffer.from([1, 0, 0]))))).message).toContain("truncated");
  });

  it("header length beyond the file or over the limit", async () => {
    const body = Buffer.from('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    expect((await rejection(openFile(await writeBytes(frame(body.toString(), new Uint8Array(4), 10_000n))))).message).toContain("beyond the file size");
    expect((await rejection(openFile(await writeBytes(frame(body.toString(), new Uint8Array(4), 2n ** 40n))))).message).toContain("limit");
  });

  it("malformed header JSON", async () => {
    expect((await rejection(openFile(await writeBytes(frame('{"lm_head.weight": {', new Uint8Array(8)))))).message).toContain("not valid JSON");
    expect((await rejection(openFile(await writeBytes(frame("[1, 2]", new Uint8Array(8)))))).message).toContain("not a JSON object");
  });

  it("data_offsets inconsistent with the shape", async () => {
    const header = JSON.stringify({ "lm_head.weight": { dtype: "F32", shape: [2, 3], data_offsets: [0, 16] } });
    const err = await rejection(openFile(await writeBytes(frame(header, new Uint8Array(24)))));
    expect(err.message).toContain("data_offsets");
    const backwards = JSON.stringify({ "lm_head.weight": { dtype: "F32", shape: [1, 1], data_offsets: [4, 0] } });
    expect((await rejection(openFile(await writeBytes(frame(backwards, new Uint8Array(8)))))).message).toContain("data_offsets");
  });

  it("range beyond V", async () => {
    const head = await openFile(await write(standardHead()));
    expect((await rejection(head.readRows(ClassRange.of(30, V + 1)))).message).toContain(`beyond V=${V}`);
  });

  it("directories and unrecognised formats", async () => {
    const folder = join(dir, "folder");
    await mkdir(folder);
    expect((await rejection(openHead(folder))).message).toContain("folder has no weights");
    expect((await rejection(openHead(await writeBytes(Buffer.from("\x93NUMPY\x01\x00", "latin1"), ".npy")))).message).toContain(".npy");
    expect((await rejection(openHead(await writeBytes(Buffer.from("hello world"), ".txt")))).message).toContain("unrecognised format");
  });
});
