/**
 * gRPC `inference.GRPCInferenceService` on the gateway's gRPC port (port 0),
 * driven by a client built at run time from the specification's own
 * open_inference_grpc.proto (test/specs/, not the project's copy): every RPC,
 * exact answers against float64 over 2 and 3 uneven shards with raw
 * (FP16/FP32/INT64) and typed (FP32/FP64/INT64) contents, sampling through
 * InferParameter, and hostile input refused as INVALID_ARGUMENT naming the
 * field while the server keeps serving, next to shardmax.v1.Softmax.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CODE_METADATA_KEY } from "../../../shared/errors.js";
import { shardmaxProto } from "../../../shared/grpc/proto.js";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { allowedClasses, referenceDraw } from "../../helpers/reference-sampling.js";
import {
  gemmTolerance,
  logProbTolerance,
  logZTolerance,
  type ReferenceRow,
  randomHead,
  randomHidden,
  referenceLogits,
  referenceRow,
  within,
} from "../../helpers/reference-softmax.js";
import { fromHalfBits, halfBuffer, le, SPEC_DIR, toHalfBits } from "../../helpers/v2-spec.js";

const V = 1009;
const D = 16;
const head = randomHead(41, V, D, 0.5, 1);
head.bias[17] = -1e30;
head.bias[900] = 40;
const gauss = randomHidden(42, 3, D);
gauss[2] = gauss[2]!.map((x) => x * 300);
const hidden = gauss.map((row) => Array.from(row, Math.fround));

const layouts: Record<string, [number, number][]> = {
  two: [
    [0, 512],
    [512, V],
  ],
  threeUneven: [
    [0, 7],
    [7, 800],
    [800, V],
  ],
};

/** The official definition, loaded the way an independent client would: field names as written. */
const definition = protoLoader.loadSync(join(SPEC_DIR, "open_inference_grpc.proto"), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const Inference = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService as grpc.ServiceClientConstructor;

const shards: InProcessShards[] = [];
const gateways: Record<string, TestGateway> = {};
const clients: Record<string, grpc.Client> = {};

beforeAll(async () => {
  for (const [name, ranges] of Object.entries(layouts)) {
    const s = await startInProcessShards(head, ranges);
    shards.push(s);
    gateways[name] = await startGateway(s.addresses, { modelName: "head" });
    for (let i = 0; i < 200 && !gateways[name].core.readiness().ready; i++) await new Promise((r) => setTimeout(r, 25));
    clients[name] = new Inference(gateways[name].grpcAddress, grpc.credentials.createInsecure());
  }
}, 60_000);

afterAll(async () => {
  Object.values(clients).forEach((c) => c.close());
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  await Promise.all(shards.map((s) => s.stop()));
});

function call(client: grpc.Client, method: string, request: object): Promise<any> {
  return new Promise((resolve, reject) =>
    (client as any)[method](request, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

async function refused(client: grpc.Client, method: string, request: object): Promise<{ code: number; details: string; shardmaxCode: unknown }> {
  const err = (await call(client, method, request).then(
    () => expect.fail(`${method} should fail`),
    (e: grpc.ServiceError) => e,
  )) as grpc.ServiceError;
  return { code: err.code, details: err.details, shardmaxCode: err.metadata.get(CODE_METADATA_KEY)[0] };
}

const param = (value: number | boolean | string) =>
  typeof value === "boolean"
    ? { bool_param: value }
    : typeof value === "string"
      ? { string_param: value }
      : Number.isInteger(value)
        ? { int64_param: value }
        : { double_param: value };
const params = (p: Record<string, number | boolean | string>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, param(v)]));
const refs = (rows: number[][], temperature = 1): ReferenceRow[] => rows.map((h) => referenceRow(referenceLogits(head, h, temperature), V));

/** Each output's values, from raw_output_contents or typed contents. */
function outputs(response: any): Map<string, { shape: number[]; values: number[] }> {
  const out = new Map<string, { shape: number[]; values: number[] }>();
  response.outputs.forEach((o: any, i: number) => {
    const raw: Buffer | undefined = response.raw_output_contents[i];
    const values = raw
      ? o.datatype === "INT64"
        ? le.readI64(raw)
        : le.readF64(raw)
      : o.datatype === "INT64"
        ? o.contents.int64_contents
        : o.contents.fp64_contents;
    out.set(o.name, { shape: o.shape, values });
  });
  return out;
}

function expectExact(got: Map<string, { shape: number[]; values: number[] }>, ref: ReferenceRow[], k: number): void {
  expect(got.get("top_ids")!.shape).toEqual([ref.length, k]);
  ref.forEach((r, row) => {
    const tol = gemmTolerance(r, D);
    expect(within(got.get("logsumexp")!.values[row]!, r.logZ, Math.max(logZTolerance(r), tol))).toBe(true);
    expect(got.get("top_ids")!.values.slice(row * k, (row + 1) * k)).toEqual(r.topIds.slice(0, k));
    r.topIds
      .slice(0, k)
      .forEach((id, j) => expect(within(got.get("top_logprobs")!.values[row * k + j]!, r.logProbs[id]!, Math.max(logProbTolerance(r, id), tol))).toBe(true));
  });
}

describe.each(Object.keys(layouts))("GRPCInferenceService over %s shards", (layout) => {
  const client = () => clients[layout]!;

  it("answers raw FP32 + INT64 (−1 padding) in raw_output_contents, exactly", async () => {
    const response = await call(client(), "ModelInfer", {
      model_name: "head",
      id: "r1",
      parameters: params({ top_k: 6 }),
      inputs: [
        { name: "hidden", datatype: "FP32", shape: [3, D] },
        { name: "targets", datatype: "INT64", shape: [3, 2] },
      ],
      raw_input_contents: [le.f32(hidden.flat()), le.i64([900, -1, 17, 3, -1, 1008])],
    });
    expect(response).toMatchObject({ model_name: "head", model_version: "1", id: "r1" });
    expect(response.raw_output_contents).toHaveLength(4);
    const got = outputs(response);
    const ref = refs(hidden);
    expectExact(got, ref, 6);
    const targets = got.get("target_logprobs")!;
    expect(targets.shape).toEqual([3, 2]);
    [
      [900, -1],
      [17, 3],
      [-1, 1008],
    ].forEach((ids, row) =>
      ids.forEach((id, j) => {
        const v = targets.values[row * 2 + j]!;
        if (id === -1) expect(Number.isNaN(v)).toBe(true);
        else expect(within(v, ref[row]!.logProbs[id]!, Math.max(logProbTolerance(ref[row]!, id), gemmTolerance(ref[row]!, D)))).toBe(true);
      }),
    );
  });

  it("answers raw FP16 input", async () => {
    const response = await call(client(), "ModelInfer", {
      model_name: "head",
      inputs: [{ name: "hidden", datatype: "FP16", shape: [3, D] }],
      raw_input_contents: [halfBuffer(hidden.flat())],
    });
    expectExact(outputs(response), refs(hidden.map((row) => row.map((x) => fromHalfBits(toHalfBits(x))))), 5);
  });

  it("answers typed FP64 and FP32 contents in typed contents, and samples through InferParameter", async () => {
    const rows = randomHidden(43, 2, D).map((r) => Array.from(r));
    const fp64 = await call(client(), "ModelInfer", {
      model_name: "head",
      model_version: "1",
      parameters: params({ top_k: 3, temperature: 0.75 }),
      inputs: [{ name: "hidden", datatype: "FP64", shape: [2, D], contents: { fp64_contents: rows.flat() } }],
    });
    expect(fp64.raw_output_contents).toEqual([]);
    expectExact(
      outputs(fp64),
      refs(
        rows.map((r) => r.map(Math.fround)),
        0.75,
      ),
      3,
    );

    const seed = 2 ** 53 - 1;
    const sampled = await call(client(), "ModelInfer", {
      model_name: "head",
      parameters: params({ sample_n: 4, seed, top_p: 0.95, sample_top_k: 30, top_k: 2 }),
      inputs: [{ name: "hidden", datatype: "FP32", shape: [2, D], contents: { fp32_contents: hidden.slice(0, 2).flat() } }],
      outputs: [{ name: "sample_ids" }, { name: "sample_seeds" }, { name: "sample_logprobs" }],
    });
    const got = outputs(sampled);
    expect([...got.keys()]).toEqual(["sample_ids", "sample_seeds", "sample_logprobs"]);
    expect(got.get("sample_seeds")!.values).toEqual([seed, 0]);
    refs(hidden.slice(0, 2)).forEach((ref, row) => {
      const allowed = allowedClasses(ref, { topK: 30, topP: 0.95 });
      for (let j = 0; j < 4; j++) {
        const id = referenceDraw(ref, allowed, got.get("sample_seeds")!.values[row]!, j);
        expect(got.get("sample_ids")!.values[row * 4 + j]).toBe(id);
        expect(within(got.get("sample_logprobs")!.values[row * 4 + j]!, ref.logProbs[id]!, Math.max(logProbTolerance(ref, id), gemmTolerance(ref, D)))).toBe(
          true,
        );
      }
    });
  });
});

describe("GRPCInferenceService metadata, health and errors", () => {
  const client = () => clients.two!;

  it("answers live, ready, server and model metadata, model ready", async () => {
    expect(await call(client(), "ServerLive", {})).toEqual({ live: true });
    expect(await call(client(), "ServerReady", {})).toEqual({ ready: true });
    expect(await call(client(), "ModelReady", { name: "head", version: "1" })).toEqual({ ready: true });
    expect(await call(client(), "ServerMetadata", {})).toMatchObject({ name: "shardmax", extensions: ["binary_tensor_data"] });
    const metadata = await call(client(), "ModelMetadata", { name: "head" });
    expect(metadata).toMatchObject({
      name: "head",
      versions: ["1"],
      platform: "shardmax",
      inputs: [
        { name: "hidden", datatype: "FP32", shape: [-1, D] },
        { name: "targets", datatype: "INT64", shape: [-1, -1] },
      ],
    });
    expect(metadata.properties).toMatchObject({ vocab_size: String(V), dim: String(D), fingerprint: "sha256:test-head" });
  });

  it("answers an unknown model or version NOT_FOUND", async () => {
    for (const [method, request] of [
      ["ModelReady", { name: "other" }],
      ["ModelMetadata", { name: "head", version: "7" }],
      ["ModelInfer", { model_name: "shardmax", inputs: [] }],
    ] as const) {
      const err = await refused(client(), method, request);
      expect([method, err.code, err.shardmaxCode]).toEqual([method, grpc.status.NOT_FOUND, "NOT_FOUND"]);
    }
  });

  const hidden1 = { name: "hidden", datatype: "FP32", shape: [1, D], contents: { fp32_contents: hidden[0] } };
  const bad: [string, object, RegExp][] = [
    ["a wrong datatype", { inputs: [{ ...hidden1, datatype: "BYTES" }] }, /hidden\.datatype: must be FP32 or FP16 or FP64, got "BYTES"/],
    ["contents of the wrong size", { inputs: [{ ...hidden1, shape: [2, D] }] }, /hidden\.contents: has 16 values, shape \[2, 16\] needs 32/],
    [
      "values in another datatype's contents",
      { inputs: [{ ...hidden1, contents: { fp64_contents: hidden[0] } }] },
      /hidden\.contents: FP32 values go in fp32_contents, not fp64_contents/,
    ],
    ["typed FP16", { inputs: [{ ...hidden1, datatype: "FP16" }] }, /hidden\.contents: FP16 has no typed contents/],
    ["NaN", { inputs: [{ ...hidden1, contents: { fp32_contents: [NaN, ...hidden[0]!.slice(1)] } }] }, /hidden\[0\]\[0\]: is not a finite number/],
    [
      "a huge shape",
      { inputs: [{ ...hidden1, shape: [2 ** 26, 2 ** 26] }] },
      /hidden\.contents: has 16 values, shape \[67108864, 67108864\] needs 4503599627370496/,
    ],
    ["a shape past 2^53 elements", { inputs: [{ ...hidden1, shape: [2 ** 40, 2 ** 20] }] }, /hidden\.shape: \[1099511627776, 1048576\] has too many elements/],
    [
      "raw buffers for some inputs",
      { inputs: [hidden1, { name: "targets", datatype: "INT64", shape: [1, 1] }], raw_input_contents: [le.f32(hidden[0]!)] },
      /raw_input_contents: has 1 buffers for 2 inputs/,
    ],
    [
      "a raw buffer of the wrong size",
      { inputs: [{ name: "hidden", datatype: "FP32", shape: [1, D] }], raw_input_contents: [Buffer.alloc(12)] },
      /hidden: has 12 bytes, shape × FP32 needs 64/,
    ],
    ["a string top_k", { inputs: [hidden1], parameters: params({ top_k: "five" }) }, /parameters\.top_k: must be an integer, got "five"/],
    ["an unknown output", { inputs: [hidden1], outputs: [{ name: "probs" }] }, /outputs\[0\]\.name: "probs" is not an output/],
  ];
  it.each(bad)("refuses %s as INVALID_ARGUMENT naming the field, and keeps serving", async (_name, request, message) => {
    const err = await refused(client(), "ModelInfer", { model_name: "head", ...request });
    expect([err.code, err.shardmaxCode]).toEqual([grpc.status.INVALID_ARGUMENT, "INVALID_ARGUMENT"]);
    expect(err.details).toMatch(message);
    expect((await call(client(), "ModelInfer", { model_name: "head", inputs: [hidden1] })).outputs).toHaveLength(3);
  });

  it("shares the port with shardmax.v1.Softmax", async () => {
    const softmax = new (shardmaxProto().Softmax)(gateways.two!.grpcAddress, grpc.credentials.createInsecure());
    try {
      const info = await call(softmax, "info", {});
      expect(info.model).toMatchObject({ vocabSize: V, dim: D });
    } finally {
      softmax.close();
    }
  });
});
