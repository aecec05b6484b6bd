/**
 * End to end on the checkpoints people have: real shard processes serving a
 * Hugging Face-style sharded BF16 folder (head in the second file, several
 * onnxruntime blocks per shard) and a .npy head (F16 weights, F32 bias
 * .npy), with labels from the folder's tokenizer.json and from a text file.
 * Answers over REST and the SDK are checked against a float64 softmax of the
 * stored (rounded) weights; a shard of a head whose bytes differ is refused;
 * labels of the wrong size are refused.
 */
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { ShardmaxError } from "../../shared/errors.js";
import { byteLevelToken, fromBf16, fromF16, toBf16, toF16, tokenizerJson, uint16Le, writeHfFolder, writeNpy } from "../helpers/checkpoint-writers.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { type Head, randomHead, randomHidden, referenceSoftmax } from "../helpers/reference-softmax.js";
import { float32Bytes } from "../helpers/safetensors-writer.js";

const V = 503;
const D = 32;
const K = 6;
const base = randomHead(21, V, D, 0.5, 1);
const bf16 = toBf16(base.weight);
const f16 = Uint16Array.from(base.weight, toF16);
/** The heads as stored: the float64 reference is computed from these rounded values. */
const folderHead: Head = { vocabSize: V, dim: D, weight: Float64Array.from(bf16, fromBf16), bias: new Float64Array(V) };
const npyHead: Head = { vocabSize: V, dim: D, weight: Float64Array.from(f16, fromF16), bias: Float64Array.from(base.bias) };

const words = Array.from({ length: V - 2 }, (_, i) => (i % 3 === 0 ? ` w${i}` : i % 3 === 1 ? `w${i}\n` : `ü${i}`));
const tokenLabels = [...words, "<|endoftext|>", "<|pad|>"];
const textLabels = Array.from({ length: V }, (_, i) => `item ${i}`);

const hidden = randomHidden(8, 3, D).map((row) => Array.from(row, Math.fround));
const targets = hidden.map((_, r) => [0, 1, 2, V - 1, 100 + r]);

let dir: string;
let folder: string;
let npy: string;
let bias: string;
const shards: ShardProcess[] = [];
const gateways: TestGateway[] = [];

async function shard(args: string[]): Promise<ShardProcess> {
  const s = await startShard(["--listen", "127.0.0.1:0", "--threads", "1", ...args]);
  shards.push(s);
  return s;
}

async function gateway(addresses: string[], labels?: string): Promise<TestGateway> {
  const g = await startGateway(addresses, labels === undefined ? {} : { labels });
  gateways.push(g);
  return g;
}

beforeAll(async () => {
  dir = await tempDir();
  folder = await writeHfFolder(join(dir, "model"), [
    {
      "model.embed_tokens.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(new Uint16Array(V * D)) },
      "model.norm.weight": { shape: [D], dtype: "BF16", bytes: uint16Le(new Uint16Array(D)) },
    },
    { "lm_head.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(bf16) } },
  ]);
  await writeFile(
    join(folder, "tokenizer.json"),
    tokenizerJson(words.map(byteLevelToken), [
      { id: V - 2, content: "<|endoftext|>" },
      { id: V - 1, content: "<|pad|>" },
    ]),
  );
  npy = await writeNpy(join(dir, "head.npy"), "<f2", [V, D], uint16Le(f16));
  bias = await writeNpy(join(dir, "bias.npy"), "<f4", [V], float32Bytes(Float32Array.from(base.bias)));
  await writeFile(join(dir, "labels.txt"), `${textLabels.join("\n")}\n`);
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
  await rm(dir, { recursive: true, force: true });
});

function expectExact(results: any[], head: Head, labels: string[]): void {
  const refs = referenceSoftmax(head, hidden, K);
  results.forEach((row, r) => {
    const ref = refs[r]!;
    expect(Math.abs(row.logZ - ref.logZ)).toBeLessThanOrEqual(1e-4);
    expect(row.top.map((t: any) => t.id)).toEqual(ref.topIds);
    for (const entry of [...row.top, ...row.targets]) {
      expect(Math.abs(entry.logprob - ref.logProbs[entry.id]!)).toBeLessThanOrEqual(1e-4);
      expect(entry.label).toBe(labels[entry.id]);
    }
    expect(row.targets.map((t: any) => t.id)).toEqual(targets[r]);
  });
}

describe("a sharded BF16 Hugging Face folder, labels from its tokenizer.json", () => {
  let g: TestGateway;
  beforeAll(async () => {
    // Two shards of several blocks each (--block-rows 60): blocks and shards both split the head.
    const started = await Promise.all([0, 1].map((i) => shard(["--weights", folder, "--shard", `${i}/2`, "--block-rows", "60"])));
    g = await gateway(
      started.map((s) => s.address),
      folder,
    );
  });

  it("REST answers match float64 of the stored BF16 weights, with token text as labels", async () => {
    const { status, body } = await g.post("/v1/softmax", { hidden, topK: K, targets });
    expect(status).toBe(200);
    expectExact(body.results, folderHead, tokenLabels);
    expect(body.results[0].targets[0].label).toBe(" w0");
    expect(body.results[0].targets[1].label).toBe("w1\n");
    expect(body.results[0].targets[2].label).toBe("ü2");
    expect(body.results[0].targets[3].label).toBe("<|pad|>");
  });

  it("the SDK gets the same answer, labels included", async () => {
    const client = new ShardmaxClient(g.grpcAddress);
    try {
      const viaSdk = await client.query({ hidden, topK: K, targets });
      expect(viaSdk).toEqual((await g.post("/v1/softmax", { hidden, topK: K, targets })).body);
      const info = await client.info();
      expect(info.labels).toEqual({ source: join(folder, "tokenizer.json"), kind: "tokenizer.json", count: V });
    } finally {
      client.close();
    }
  });

  it("GET /v1/model says where the labels come from and the head is BF16", async () => {
    const { body } = await g.get("/v1/model");
    expect(body).toMatchObject({ ready: true, dtype: "BF16", labels: { source: join(folder, "tokenizer.json"), kind: "tokenizer.json", count: V } });
  });
});

describe("a .npy head (F16 weights, F32 bias .npy), labels from a text file", () => {
  it("answers exactly with line i as the label of class i", async () => {
    const s = await shard(["--weights", npy, "--bias", bias, "--shard", "0/1"]);
    const g = await gateway([s.address], join(dir, "labels.txt"));
    const { status, body } = await g.post("/v1/softmax", { hidden, topK: K, targets });
    expect(status).toBe(200);
    expectExact(body.results, npyHead, textLabels);
    expect((await g.get("/v1/model")).body.labels).toEqual({ source: join(dir, "labels.txt"), kind: "text", count: V });
  });
});

describe("one head only", () => {
  it("a shard whose head differs in one byte has another fingerprint, and the gateway will not merge it", async () => {
    const changed = join(dir, "changed");
    await mkdir(changed);
    const edited = Uint16Array.from(bf16);
    edited[7] ^= 1;
    await writeHfFolder(changed, [
      { "model.norm.weight": { shape: [D], dtype: "BF16", bytes: uint16Le(new Uint16Array(D)) } },
      { "lm_head.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(edited) } },
    ]);
    const [same0, same1, other1] = await Promise.all([
      shard(["--weights", folder, "--shard", "0/2"]),
      shard(["--weights", join(folder, "model-00002-of-00002.safetensors"), "--shard", "1/2"]),
      shard(["--weights", changed, "--shard", "1/2"]),
    ]);
    // The same head read from the folder and from its second file alone: one fingerprint.
    expect((await (await gateway([same0.address, same1.address])).get("/readyz")).status).toBe(200);
    const mixed = await gateway([same0.address, other1.address]);
    const ready = await mixed.get("/readyz");
    expect(ready.status).toBe(409);
    expect(ready.body.error.code).toBe("MODEL_MISMATCH");
  });

  it("labels whose count is not V are refused when the gateway starts", async () => {
    const s = await shard(["--weights", npy, "--shard", "0/1"]);
    const short = join(dir, "short.txt");
    await copyFile(join(dir, "labels.txt"), short);
    await writeFile(short, textLabels.slice(1).join("\n"));
    const err = await startGateway([s.address], { labels: short }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShardmaxError);
    expect((err as ShardmaxError).code).toBe("MODEL_MISMATCH");
    expect((err as ShardmaxError).message).toBe(`labels ${short}: has ${V - 1} lines, but the head has V=${V} classes`);
  });
});
