/**
 * The Open Inference Protocol end to end: two real shard processes and a real
 * `shardmax gateway` process whose model is named through SHARDMAX_MODEL_NAME;
 * a binary-extension REST request and a gRPC request from a client built
 * from the specification's .proto both get exact answers, and the default
 * name is not served.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it } from "vitest";
import { tempDir, writeHead } from "../helpers/heads.js";
import { CLI, type ShardProcess, startShard } from "../helpers/processes.js";
import { gemmTolerance, logProbTolerance, randomHead, randomHidden, referenceLogits, referenceRow, within } from "../helpers/reference-softmax.js";
import { binaryBody, binaryHeaderErrors, le, readBinaryResponse, SPEC_DIR } from "../helpers/v2-spec.js";

const V = 777;
const D = 24;
const head = randomHead(61, V, D, 0.5, 1);
const hidden = randomHidden(62, 2, D).map((r) => Array.from(r, Math.fround));
const refs = hidden.map((h) => referenceRow(referenceLogits(head, h), V));
let shards: ShardProcess[] = [];
let gateway: ChildProcess;
let http = "";
let grpcAddress = "";

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), head);
  shards = await Promise.all([0, 1].map((i) => startShard(["--weights", file, "--shard", `${i}/2`, "--listen", "127.0.0.1:0", "--threads", "1"])));
  gateway = spawn(process.execPath, [CLI, "gateway", "--shards", shards.map((s) => s.address).join(","), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"], {
    env: { ...process.env, SHARDMAX_MODEL_NAME: "lm" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    gateway.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const h = / http=[^ ]*:(\d+)/.exec(stderr);
      const g = / grpc=[^ ]*:(\d+)/.exec(stderr);
      if (stderr.includes("gateway listening") && h && g) {
        http = `http://127.0.0.1:${h[1]}`;
        grpcAddress = `127.0.0.1:${g[1]}`;
        resolve();
      }
    });
    gateway.once("exit", (code) => reject(new Error(`gateway exited ${code}: ${stderr}`)));
  });
  for (let i = 0; i < 200 && (await fetch(`${http}/v2/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
}, 60_000);

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    const exited = once(gateway, "exit");
    gateway.kill("SIGTERM");
    await exited;
  }
  await Promise.all(shards.map((s) => s.kill()));
});

const expectTop = (ids: number[], logprobs: number[], k: number) =>
  refs.forEach((ref, row) => {
    expect(ids.slice(row * k, (row + 1) * k)).toEqual(ref.topIds.slice(0, k));
    ref.topIds
      .slice(0, k)
      .forEach((id, j) => expect(within(logprobs[row * k + j]!, ref.logProbs[id]!, Math.max(logProbTolerance(ref, id), gemmTolerance(ref, D)))).toBe(true));
  });

it("answers a binary REST request for the model named by SHARDMAX_MODEL_NAME exactly; the default name is 404", async () => {
  const { body, headerLength } = binaryBody(
    {
      parameters: { top_k: 4, binary_data_output: true },
      inputs: [{ name: "hidden", datatype: "FP32", shape: [2, D], parameters: { binary_data_size: 2 * D * 4 } }],
    },
    [le.f32(hidden.flat())],
  );
  const post = (model: string) =>
    fetch(`${http}/v2/models/${model}/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) },
      body,
    });
  const res = await post("lm");
  expect(res.status).toBe(200);
  const { header, bytes } = readBinaryResponse(Buffer.from(await res.arrayBuffer()), Number(res.headers.get("inference-header-content-length")));
  expect(binaryHeaderErrors(header)).toEqual([]);
  expect(header.model_name).toBe("lm");
  expectTop(le.readI64(bytes.get("top_ids")!), le.readF64(bytes.get("top_logprobs")!), 4);
  const other = await post("shardmax");
  expect(other.status).toBe(404);
  expect(((await other.json()) as { error: string }).error).toMatch(/no such model/);
});

it("answers ModelInfer from a client of the specification's .proto exactly", async () => {
  const definition = protoLoader.loadSync(join(SPEC_DIR, "open_inference_grpc.proto"), { keepCase: true, longs: Number, defaults: true, oneofs: true });
  const Inference = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService as grpc.ServiceClientConstructor;
  const client = new Inference(grpcAddress, grpc.credentials.createInsecure()) as any;
  try {
    const response: any = await new Promise((resolve, reject) =>
      client.ModelInfer(
        {
          model_name: "lm",
          parameters: { top_k: { int64_param: 3 } },
          inputs: [{ name: "hidden", datatype: "FP32", shape: [2, D] }],
          raw_input_contents: [le.f32(hidden.flat())],
        },
        (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)),
      ),
    );
    const raw = (name: string) => response.raw_output_contents[response.outputs.findIndex((o: { name: string }) => o.name === name)];
    expectTop(le.readI64(raw("top_ids")), le.readF64(raw("top_logprobs")), 3);
  } finally {
    client.close();
  }
});
