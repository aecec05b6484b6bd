/**
 * Fuzzed parsers of bytes from outside the process: safetensors and .npy
 * headers, tokenizer.json and text label files. Each case is either read into
 * something consistent with the bytes (shapes whole, spans inside the file)
 * or refused with an INVALID_ARGUMENT naming the file — never a TypeError, a
 * hang or an out-of-memory.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loadLabels } from "../../shared/checkpoint/labels.js";
import { NPY_MAGIC, readNpyHeader } from "../../shared/checkpoint/npy-header.js";
import { readSafetensorsHeader } from "../../shared/checkpoint/safetensors-header.js";
import type { TensorInfo } from "../../shared/checkpoint/tensor-info.js";
import { ShardmaxError } from "../../shared/errors.js";
import { fuzzParameters, hostileValue } from "../helpers/fuzz.js";

const dir = mkdtempSync(join(tmpdir(), "shardmax-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const write = (name: string, bytes: Buffer | string) => {
  const path = join(dir, `${n++}-${name}`);
  writeFileSync(path, bytes);
  return path;
};

/** Resolves to the value, or to the ShardmaxError; anything else thrown fails the property. */
async function outcome<T>(promise: Promise<T>, path: string): Promise<T | ShardmaxError> {
  try {
    return await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ShardmaxError);
    expect((err as ShardmaxError).code).toBe("INVALID_ARGUMENT");
    expect((err as ShardmaxError).message).toContain(path);
    expect((err as ShardmaxError).message).not.toContain("\n");
    return err as ShardmaxError;
  }
}

function expectConsistent(t: TensorInfo, fileSize: number): void {
  expect(t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
  expect(t.position).toBeGreaterThanOrEqual(0);
  expect(t.position + t.byteLength).toBeLessThanOrEqual(fileSize);
}

const dtype = fc.constantFrom("F32", "F16", "BF16", "I64", "F64", "U8", "f32", "", "F32\u0000");
const shape = fc.oneof(fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 3 }), fc.array(hostileValue, { maxLength: 3 }));
const offsets = fc.oneof(fc.tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 })), fc.array(hostileValue, { maxLength: 3 }));
const tensorEntry = fc.oneof(fc.record({ dtype, shape, data_offsets: offsets }), hostileValue);

describe("safetensors header", () => {
  it("reads a header consistent with the file or refuses it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.oneof(fc.constant("__metadata__"), fc.string({ maxLength: 6 })), tensorEntry, { maxKeys: 4 }),
        fc.integer({ min: 0, max: 600 }),
        fc.oneof(fc.constant("exact"), fc.constant("short"), fc.constant("huge"), fc.constant("garbage")),
        async (header, dataBytes, lengthKind) => {
          const json = Buffer.from(JSON.stringify(header));
          const prefix = Buffer.alloc(8);
          if (lengthKind === "huge") prefix.writeBigUInt64LE(2n ** 63n + 5n);
          else prefix.writeBigUInt64LE(BigInt(lengthKind === "short" ? Math.max(0, json.length - 3) : json.length));
          const body = lengthKind === "garbage" ? Buffer.from("\u0000{not json", "utf8") : json;
          const bytes = Buffer.concat([prefix, body, Buffer.alloc(dataBytes)]);
          const path = write("h.safetensors", bytes);
          const result = await outcome(readSafetensorsHeader(path), path);
          if (!(result instanceof ShardmaxError)) for (const t of result) expectConsistent(t, bytes.length);
        },
      ),
      fuzzParameters(1500),
    );
  });

  it("refuses random bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const path = write("r.safetensors", Buffer.from(bytes));
        const result = await outcome(readSafetensorsHeader(path), path);
        if (!(result instanceof ShardmaxError)) for (const t of result) expectConsistent(t, bytes.length);
      }),
      fuzzParameters(1000),
    );
  });
});

describe(".npy header", () => {
  const dict = fc.oneof(
    fc
      .record({
        descr: fc.constantFrom("'<f4'", "'<f2'", "'>f4'", "'<f8'", "'|u1'", "'<f4", "1"),
        fortran: fc.constantFrom("False", "True", "0"),
        shape: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
      })
      .map(({ descr, fortran, shape }) => `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`),
    fc.string({ maxLength: 60 }),
  );
  it("reads a header consistent with the file or refuses it", async () => {
    await fc.assert(
      fc.asyncProperty(dict, fc.constantFrom(1, 2, 3, 9), fc.integer({ min: 0, max: 400 }), fc.boolean(), async (text, major, dataBytes, padded) => {
        const header = Buffer.from(padded ? `${text.padEnd(Math.ceil((text.length + 11) / 64) * 64 - 11, " ")}\n` : text);
        const version = Buffer.from([major, 0]);
        const length = Buffer.alloc(major === 1 ? 2 : 4);
        if (major === 1) length.writeUInt16LE(Math.min(header.length, 0xffff));
        else length.writeUInt32LE(header.length);
        const bytes = Buffer.concat([NPY_MAGIC, version, length, header, Buffer.alloc(dataBytes)]);
        const path = write("h.npy", bytes);
        const result = await outcome(readNpyHeader(path), path);
        if (!(result instanceof ShardmaxError)) expectConsistent(result, bytes.length);
      }),
      fuzzParameters(1500),
    );
  });

  it("refuses random bytes after the magic", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (tail) => {
        const bytes = Buffer.concat([NPY_MAGIC, Buffer.from(tail)]);
        const path = write("r.npy", bytes);
        const result = await outcome(readNpyHeader(path), path);
        if (!(result instanceof ShardmaxError)) expectConsistent(result, bytes.length);
      }),
      fuzzParameters(1000),
    );
  });
});

describe("labels", () => {
  const token = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("Ġthe", "<0x0A>", "<0xZZ>", "▁a", "\u0000", "\ud800"));
  const vocab = fc.dictionary(token, fc.oneof(fc.integer({ min: 0, max: 12 }), hostileValue), { maxKeys: 8 });
  const decoder = fc.oneof(
    fc.constant(null),
    fc.record({ type: fc.constantFrom("ByteLevel", "Metaspace", "Sequence", "WordPiece", "BPEDecoder", "Replace", "Strip", "nope") }),
    fc.record({
      type: fc.constant("Sequence"),
      decoders: fc.array(fc.record({ type: fc.constantFrom("ByteFallback", "Fuse", "Replace", "Strip") }), { maxLength: 3 }),
    }),
    hostileValue,
  );
  const tokenizer = fc.oneof(
    fc.record({
      model: fc.record({ type: fc.constantFrom("BPE", "WordPiece", "Unigram", "WordLevel"), vocab }),
      decoder,
      added_tokens: fc.array(fc.record({ id: hostileValue, content: token }), { maxLength: 2 }),
    }),
    fc.record({ model: fc.record({ type: fc.constant("Unigram"), vocab: fc.array(fc.tuple(token, fc.double()), { maxLength: 5 }) }), decoder }),
    hostileValue,
  );

  it("reads a tokenizer.json into one label per id, or refuses it", async () => {
    await fc.assert(
      fc.asyncProperty(tokenizer, async (json) => {
        const path = write("tokenizer.json", JSON.stringify(json) ?? "null");
        const result = await outcome(loadLabels(path), path);
        if (!(result instanceof ShardmaxError)) {
          expect(result.count).toBeGreaterThan(0);
          for (let id = 0; id < result.count; id++) expect(typeof result.label(id)).toBe("string");
        }
      }),
      fuzzParameters(1500),
    );
  });

  it("reads a text label file line by line, or refuses it (not UTF-8, empty)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
          fc.array(fc.string({ maxLength: 5 }), { maxLength: 6 }).map((l) => Buffer.from(l.join("\n"))),
        ),
        async (bytes) => {
          const path = write("labels.txt", bytes);
          const result = await outcome(loadLabels(path), path);
          if (!(result instanceof ShardmaxError)) {
            const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
            expect(result.count).toBe(text.split("\n").length - (text.endsWith("\n") ? 1 : 0));
            expect(result.label(0)).toBe(text.split("\n")[0]!.replace(/\r$/, ""));
          }
        },
      ),
      fuzzParameters(1500),
    );
  });
});
