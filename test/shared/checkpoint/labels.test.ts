/**
 * Labels (--labels): text files (line i is class i) and Hugging Face
 * tokenizer.json files, whose tokens are shown as the text they stand for
 * according to the tokenizer's own decoder (byte-level BPE, SentencePiece
 * metaspace with byte fallback, WordPiece); refusals name the file.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labelProblem, loadLabels, withLabels } from "../../../shared/checkpoint/labels.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { byteLevelToken, tokenizerJson } from "../../helpers/checkpoint-writers.js";

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shardmax-labels-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(content: string | Uint8Array, name = `labels-${count++}.txt`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function refusal(path: string): Promise<string> {
  const err = await loadLabels(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShardmaxError);
  expect((err as ShardmaxError).message).not.toContain("\n");
  expect((err as ShardmaxError).message).toMatch(/^labels /);
  return (err as ShardmaxError).message;
}

const all = (labels: { count: number; label(id: number): string }) => Array.from({ length: labels.count }, (_, i) => labels.label(i));

describe("text files", () => {
  it("line i is class i; CRLF, a final newline, a BOM and empty lines are handled", async () => {
    const labels = await loadLabels(await file("\uFEFFcat\r\ndog\n\nsea lion\n"));
    expect(labels).toMatchObject({ kind: "text", count: 4 });
    expect(all(labels)).toEqual(["cat", "dog", "", "sea lion"]);
    expect(all(await loadLabels(await file("a\nb")))).toEqual(["a", "b"]);
  });

  it("refuses an empty file, bytes that are not UTF-8, and a missing file", async () => {
    expect(await refusal(await file(""))).toMatch(/has no labels/);
    expect(await refusal(await file(Uint8Array.from([0x61, 0x0a, 0xff, 0xfe])))).toMatch(/is not UTF-8 text/);
    expect(await refusal(join(dir, "absent.txt"))).toMatch(/absent\.txt: no such file/);
  });
});

describe("tokenizer.json", () => {
  it("byte-level BPE: Ġ is a space, Ċ a newline, whole characters decode, stray bytes show as <0xNN>", async () => {
    const euro = Buffer.from("€", "utf8"); // e2 82 ac
    const vocab = [
      byteLevelToken("!"),
      byteLevelToken(" the"),
      byteLevelToken("\n"),
      byteLevelToken(" café"),
      byteLevelToken(euro.subarray(0, 2)),
      byteLevelToken("日本"),
    ];
    expect(vocab[1]).toBe("Ġthe");
    expect(vocab[2]).toBe("Ċ");
    const labels = await loadLabels(await file(tokenizerJson(vocab, [{ id: 6, content: "<|endoftext|>" }]), "tokenizer.json"));
    expect(labels).toMatchObject({ kind: "tokenizer.json", count: 7 });
    expect(all(labels)).toEqual(["!", " the", "\n", " café", "<0xE2><0x82>", "日本", "<|endoftext|>"]);
  });

  it("a folder stands for its tokenizer.json; added tokens override the vocabulary", async () => {
    const folder = join(dir, "model");
    await mkdir(folder);
    await writeFile(join(folder, "tokenizer.json"), tokenizerJson(["a", "b"], [{ id: 1, content: "<s>" }]));
    const labels = await loadLabels(folder);
    expect(labels.source).toBe(join(folder, "tokenizer.json"));
    expect(all(labels)).toEqual(["a", "<s>"]);
  });

  it("SentencePiece style (Unigram list, Replace ▁ and ByteFallback decoders)", async () => {
    const decoder = {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    };
    const json = JSON.stringify({
      model: {
        type: "Unigram",
        vocab: [
          ["<unk>", 0],
          ["▁the", -1],
          ["<0x0A>", -2],
          ["<0xE2>", -3],
          ["ing", -4],
        ],
      },
      decoder,
      added_tokens: [],
    });
    expect(all(await loadLabels(await file(json, "sp.json")))).toEqual(["<unk>", " the", "\n", "<0xE2>", "ing"]);
    const metaspace = JSON.stringify({ model: { type: "BPE", vocab: { "▁a": 0, b: 1 } }, decoder: { type: "Metaspace", replacement: "▁" } });
    expect(all(await loadLabels(await file(metaspace, "ms.json")))).toEqual([" a", "b"]);
  });

  it("WordPiece strips the continuation prefix", async () => {
    const json = JSON.stringify({
      model: { type: "WordPiece", vocab: { "[CLS]": 0, play: 1, "##ing": 2 } },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    });
    expect(all(await loadLabels(await file(json, "wp.json")))).toEqual(["[CLS]", "play", "ing"]);
  });

  it("refuses gaps in the ids, malformed JSON and files that are not tokenizers", async () => {
    expect(await refusal(await file(JSON.stringify({ model: { vocab: { a: 0, c: 2 } } }), "gap.json"))).toMatch(/has no token for id 1/);
    expect(await refusal(await file("{ nope", "bad.json"))).toMatch(/is not valid JSON/);
    expect(await refusal(await file("[1, 2]", "list.json"))).toMatch(/is not a tokenizer\.json: no "model" object/);
  });
});

describe("on results", () => {
  it("labelProblem names the file and both sizes; none when they agree", async () => {
    const labels = await loadLabels(await file("a\nb\nc\n"));
    expect(labelProblem(labels, { fingerprint: "x", vocabSize: 3, dim: 1 })).toBeNull();
    expect(labelProblem(labels, { fingerprint: "x", vocabSize: 4, dim: 1 })).toMatch(/labels .*labels-\d+\.txt: has 3 lines, but the head has V=4 classes/);
    expect(labelProblem(null, { fingerprint: "x", vocabSize: 4, dim: 1 })).toBeNull();
  });

  it("withLabels adds label after id, and leaves an empty label out (as gRPC does)", async () => {
    const labels = await loadLabels(await file("zero\n\ntwo\n"));
    const [row] = withLabels(
      [
        {
          logZ: 1,
          top: [
            { id: 2, logit: 1, logprob: 0, prob: 1 },
            { id: 1, logit: 0, logprob: -1, prob: 0.3 },
          ],
          targets: [{ id: 0, logit: 0, logprob: -1 }],
        },
      ],
      labels,
    );
    expect(row!.top).toEqual([
      { id: 2, label: "two", logit: 1, logprob: 0, prob: 1 },
      { id: 1, logit: 0, logprob: -1, prob: 0.3 },
    ]);
    expect(Object.keys(row!.top[0]!)).toEqual(["id", "label", "logit", "logprob", "prob"]);
    expect(row!.targets).toEqual([{ id: 0, label: "zero", logit: 0, logprob: -1 }]);
  });

  it("withLabels labels a sampled row's draws and keeps its seed", async () => {
    const labels = await loadLabels(await file("zero\none\ntwo\n"));
    const [row] = withLabels(
      [
        {
          logZ: 1,
          top: [],
          targets: [],
          seed: 42,
          samples: [
            { id: 2, logit: 1, logprob: 0 },
            { id: 0, logit: 0, logprob: -1 },
          ],
        },
      ],
      labels,
    );
    expect(row!.seed).toBe(42);
    expect(row!.samples).toEqual([
      { id: 2, label: "two", logit: 1, logprob: 0 },
      { id: 0, label: "zero", logit: 0, logprob: -1 },
    ]);
  });
});
