/**
 * REST /v2 (Open Inference Protocol) in-process: the app built by buildApp
 * over the core of a real gateway whose real onnxruntime shards run in this
 * process on port 0, driven with app.inject. Every response, errors and the
 * JSON header of binary responses included, is validated against the
 * specification's own open_inference_rest.yaml; every answer is compared with
 * float64 computed here, for 2 and 3 uneven shards and extreme logits, over
 * JSON (flat and nested) and binary tensors, FP16/FP32/FP64 inputs.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../../services/gateway/app.js";
import { silentLogger } from "../../../shared/log.js";
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
import { binaryBody, binaryHeaderErrors, fromHalfBits, halfBuffer, le, readBinaryResponse, specErrors, toHalfBits } from "../../helpers/v2-spec.js";

const V = 1009;
const D = 16;
const head = randomHead(31, V, D, 0.5, 1);
head.bias[17] = -1e30; // a class of probability 0
head.bias[600] = 40; // one class that dominates its rows
const gauss = randomHidden(32, 4, D);
gauss[3] = gauss[3]!.map((x) => x * 300); // logits in the thousands
const hidden = gauss.map((row) => Array.from(row, Math.fround));

const layouts: Record<string, [number, number][]> = {
  two: [
    [0, 400],
    [400, V],
  ],
  threeUneven: [
    [0, 101],
    [101, 700],
    [700, V],
  ],
};

const shards: InProcessShards[] = [];
const gateways: TestGateway[] = [];
const apps: Record<string, FastifyInstance> = {};

beforeAll(async () => {
  for (const [name, ranges] of Object.entries(layouts)) {
    const s = await startInProcessShards(head, ranges);
    shards.push(s);
    const gateway = await startGateway(s.addresses);
    gateways.push(gateway);
    for (let i = 0; i < 200 && !gateway.core.readiness().ready; i++) await new Promise((r) => setTimeout(r, 25));
    apps[name] = buildApp({
      core: gateway.core,
      bodyLimitBytes: 1 << 20,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      log: silentLogger,
      modelName: "head",
    });
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()));
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(shards.map((s) => s.stop()));
});

const INFER = "/v2/models/head/versions/1/infer";
const refs = (rows: number[][], temperature = 1): ReferenceRow[] => rows.map((h) => referenceRow(referenceLogits(head, h, temperature), V));

/** An infer call whose response is checked against the specification before the test sees it. */
async function infer(
  app: FastifyInstance,
  body: object | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; bytes: Map<string, Buffer> }> {
  const res = await app.inject({ method: "POST", url: INFER, headers: { "content-type": "application/json", ...headers }, payload: body as object });
  return read(res);
}

function read(res: LightMyRequestResponse): { status: number; json: any; bytes: Map<string, Buffer> } {
  if (res.statusCode !== 200) {
    const json = res.json();
    expect(specErrors("inference_error_response", json), res.body).toEqual([]);
    return { status: res.statusCode, json, bytes: new Map() };
  }
  const length = res.headers["inference-header-content-length"];
  if (length === undefined) {
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const json = res.json();
    expect(specErrors("inference_response", json)).toEqual([]);
    return { status: 200, json, bytes: new Map() };
  }
  expect(res.headers["content-type"]).toBe("application/octet-stream");
  const { header, bytes } = readBinaryResponse(res.rawPayload, Number(length));
  expect(binaryHeaderErrors(header)).toEqual([]);
  return { status: 200, json: header, bytes };
}

/** An output's values, from JSON data ("NaN" strings read back as numbers) or from its bytes. */
function values(response: { json: any; bytes: Map<string, Buffer> }, name: string): number[] {
  const output = response.json.outputs.find((o: { name: string }) => o.name === name);
  expect(output, name).toBeDefined();
  const bytes = response.bytes.get(name);
  if (bytes) return output.datatype === "INT64" ? le.readI64(bytes) : le.readF64(bytes);
  return output.data.map(Number);
}

function expectExact(response: { json: any; bytes: Map<string, Buffer> }, ref: ReferenceRow[], k: number): void {
  const logZ = values(response, "logsumexp");
  const ids = values(response, "top_ids");
  const logprobs = values(response, "top_logprobs");
  ref.forEach((r, row) => {
    const tol = gemmTolerance(r, D);
    expect(within(logZ[row]!, r.logZ, Math.max(logZTolerance(r), tol)), `logZ row ${row}`).toBe(true);
    expect(ids.slice(row * k, (row + 1) * k)).toEqual(r.topIds.slice(0, k));
    r.topIds.slice(0, k).forEach((id, j) => expect(within(logprobs[row * k + j]!, r.logProbs[id]!, Math.max(logProbTolerance(r, id), tol))).toBe(true));
  });
}

describe.each(Object.keys(layouts))("REST /v2 over %s shards", (layout) => {
  const app = () => apps[layout]!;

  it("answers FP32 flat JSON exactly: logsumexp, top-k, targets with −1 padding as the string NaN", async () => {
    const targets = [
      [5, 17, -1],
      [600, -1, -1],
      [0, 1008, 3],
      [-1, 600, 2],
    ];
    const res = await infer(app(), {
      id: "q1",
      parameters: { top_k: 7 },
      inputs: [
        { name: "hidden", datatype: "FP32", shape: [4, D], data: hidden.flat() },
        { name: "targets", datatype: "INT64", shape: [4, 3], data: targets.flat() },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ model_name: "head", model_version: "1", id: "q1" });
    expect(res.json.outputs.map((o: { name: string }) => o.name)).toEqual(["logsumexp", "top_ids", "top_logprobs", "target_logprobs"]);
    expect(res.json.outputs.map((o: { shape: number[] }) => o.shape)).toEqual([[4], [4, 7], [4, 7], [4, 3]]);
    const ref = refs(hidden);
    expectExact(res, ref, 7);
    const got = res.json.outputs[3].data;
    targets.forEach((list, row) =>
      list.forEach((id, j) => {
        if (id === -1) expect(got[row * 3 + j]).toBe("NaN");
        else expect(within(got[row * 3 + j], ref[row]!.logProbs[id]!, Math.max(logProbTolerance(ref[row]!, id), gemmTolerance(ref[row]!, D)))).toBe(true);
      }),
    );
    expect(got[1]).toBeLessThan(-1e29); // class 17: a −1e30 bias
  });

  it("answers FP64 nested JSON at a temperature as the float64 rule on the float32 the shards compute with", async () => {
    const rows = randomHidden(33, 3, D).map((r) => Array.from(r));
    const res = await infer(app(), { parameters: { top_k: 3, temperature: 0.5 }, inputs: [{ name: "hidden", datatype: "FP64", shape: [3, D], data: rows }] });
    expect(res.status).toBe(200);
    expectExact(
      res,
      refs(
        rows.map((r) => r.map(Math.fround)),
        0.5,
      ),
      3,
    );
  });

  it("takes FP16 binary input and answers binary output (binary_data_output), with the header length and octet-stream", async () => {
    const halves = hidden.map((row) => row.map((x) => fromHalfBits(toHalfBits(x))));
    const { body, headerLength } = binaryBody(
      {
        parameters: { top_k: 4, binary_data_output: true },
        inputs: [
          { name: "hidden", datatype: "FP16", shape: [4, D], parameters: { binary_data_size: 4 * D * 2 } },
          { name: "targets", datatype: "INT64", shape: [4, 1], parameters: { binary_data_size: 32 } },
        ],
      },
      [halfBuffer(hidden.flat()), le.i64([600, -1, 3, 9])],
    );
    const res = await infer(app(), body, { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) });
    expect(res.status).toBe(200);
    expect([...res.bytes.keys()]).toEqual(["logsumexp", "top_ids", "top_logprobs", "target_logprobs"]);
    const ref = refs(halves);
    expectExact(res, ref, 4);
    const targets = values(res, "target_logprobs");
    expect(Number.isNaN(targets[1])).toBe(true);
    expect(within(targets[0]!, ref[0]!.logProbs[600]!, Math.max(logProbTolerance(ref[0]!, 600), gemmTolerance(ref[0]!, D)))).toBe(true);
  });

  it("takes FP32 binary without a Content-Type (as tritonclient sends it) and mixes binary and JSON outputs as asked", async () => {
    const { body, headerLength } = binaryBody(
      {
        parameters: { top_k: 2 },
        inputs: [{ name: "hidden", datatype: "FP32", shape: [4, D], parameters: { binary_data_size: 4 * D * 4 } }],
        outputs: [{ name: "top_ids", parameters: { binary_data: true } }, { name: "logsumexp" }],
      },
      [le.f32(hidden.flat())],
    );
    const res = read(await app().inject({ method: "POST", url: INFER, headers: { "inference-header-content-length": String(headerLength) }, payload: body }));
    expect(res.status).toBe(200);
    expect(res.json.outputs.map((o: { name: string }) => o.name)).toEqual(["top_ids", "logsumexp"]);
    expect([...res.bytes.keys()]).toEqual(["top_ids"]);
    const ref = refs(hidden);
    expect(values(res, "top_ids")).toEqual(ref.flatMap((r) => r.topIds.slice(0, 2)));
    values(res, "logsumexp").forEach((z, row) => expect(within(z, ref[row]!.logZ, Math.max(logZTolerance(ref[row]!), gemmTolerance(ref[row]!, D)))).toBe(true));
  });

  it("samples exactly: sample_n, seed, top_p, sample_top_k, min_p map to the draws of the float64 rule", async () => {
    const seed = 2 ** 53 - 2; // rows wrap past 2^53 − 1
    const params = { sample_n: 3, seed, sample_top_k: 50, top_p: 0.9, min_p: 0.001, temperature: 0.8, top_k: 1 };
    const rows = hidden.slice(0, 3);
    const res = await infer(app(), { parameters: params, inputs: [{ name: "hidden", datatype: "FP32", shape: [3, D], data: rows }] });
    expect(res.status).toBe(200);
    const ids = values(res, "sample_ids");
    const logprobs = values(res, "sample_logprobs");
    const seeds = res.json.outputs.find((o: { name: string }) => o.name === "sample_seeds").data;
    expect(seeds).toEqual([seed, seed + 1, 0]);
    refs(rows, 0.8).forEach((ref, row) => {
      const allowed = allowedClasses(ref, { topK: 50, topP: 0.9, minP: 0.001 });
      for (let j = 0; j < 3; j++) {
        const id = referenceDraw(ref, allowed, seeds[row], j);
        expect(ids[row * 3 + j]).toBe(id);
        expect(within(logprobs[row * 3 + j]!, ref.logProbs[id]!, Math.max(logProbTolerance(ref, id), gemmTolerance(ref, D)))).toBe(true);
      }
    });
  });
});

describe("REST /v2 metadata, health and errors", () => {
  const app = () => apps.two!;
  const get = async (url: string) => app().inject({ method: "GET", url });

  it("serves server metadata at /v2 and /v2/ with the binary extension", async () => {
    for (const url of ["/v2", "/v2/"]) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(specErrors("metadata_server_response", res.json())).toEqual([]);
      expect(res.json()).toMatchObject({ name: "shardmax", extensions: ["binary_tensor_data"] });
    }
  });

  it("answers health and readiness with a bare 200", async () => {
    for (const url of ["/v2/health/live", "/v2/health/ready", "/v2/models/head/ready", "/v2/models/head/versions/1/ready"]) {
      const res = await get(url);
      expect([url, res.statusCode, res.body]).toEqual([url, 200, ""]);
    }
  });

  it("describes the model's tensors, with and without the version", async () => {
    for (const url of ["/v2/models/head", "/v2/models/head/versions/1"]) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(specErrors("metadata_model_response", res.json())).toEqual([]);
      expect(res.json()).toMatchObject({ name: "head", versions: ["1"], inputs: [{ name: "hidden", datatype: "FP32", shape: [-1, D] }, { name: "targets" }] });
      expect(res.json().outputs.map((o: { name: string }) => o.name)).toEqual([
        "logsumexp",
        "top_ids",
        "top_logprobs",
        "target_logprobs",
        "sample_ids",
        "sample_logprobs",
        "sample_seeds",
      ]);
    }
  });

  it("answers an unknown model, version or route 404 in V2's envelope", async () => {
    for (const [method, url] of [
      ["GET", "/v2/models/other"],
      ["GET", "/v2/models/head/versions/2"],
      ["GET", "/v2/models/other/ready"],
      ["POST", "/v2/models/other/infer"],
      ["GET", "/v2/nothing"],
    ] as const) {
      const res = await app().inject({ method, url, ...(method === "POST" ? { payload: { inputs: [] } } : {}) });
      expect([url, res.statusCode]).toEqual([url, 404]);
      expect(specErrors("metadata_model_error_response", res.json())).toEqual([]);
    }
  });

  const hidden1 = { name: "hidden", datatype: "FP32", shape: [1, D], data: hidden[0] };
  const bad: [string, object, RegExp][] = [
    ["wrong datatype", { inputs: [{ ...hidden1, datatype: "INT8" }] }, /hidden\.datatype: must be FP32 or FP16 or FP64, got "INT8"/],
    ["shape/data mismatch", { inputs: [{ ...hidden1, shape: [2, D] }] }, /hidden\.data: has 16 values, shape \[2, 16\] needs 32/],
    ["nested data against the shape", { inputs: [{ ...hidden1, data: [hidden[0]!.slice(1)] }] }, /hidden\.data\[0\]: must be an array of 16/],
    ["huge shape", { inputs: [{ ...hidden1, shape: [2 ** 40, 2 ** 20] }] }, /hidden\.shape: \[1099511627776, 1048576\] has too many elements/],
    ["three dimensions", { inputs: [{ ...hidden1, shape: [1, 1, D] }] }, /hidden\.shape: must have 2 dimensions/],
    [
      "wrong d (the core's check)",
      { inputs: [{ ...hidden1, shape: [1, 8], data: hidden[0]!.slice(0, 8) }] },
      /hidden: rows have 8 numbers, the model has d=16/,
    ],
    ["a string value", { inputs: [{ ...hidden1, data: ["1", ...hidden[0]!.slice(1)] }] }, /hidden\.data\[0\]: must be a number, got string/],
    ["an infinite value", { inputs: [{ ...hidden1, data: [1e39, ...hidden[0]!.slice(1)] }] }, /hidden\[0\]\[0\]: is not a finite number/],
    ["an unknown input", { inputs: [hidden1, { name: "extra", datatype: "FP32", shape: [1, 1], data: [1] }] }, /inputs: "extra" is not an input/],
    ["no hidden", { inputs: [] }, /inputs: hidden is required/],
    [
      "an input named after an Object property",
      { inputs: [hidden1, { name: "constructor", datatype: "FP32", shape: [1, 1], data: [1] }] },
      /inputs: "constructor" is not an input/,
    ],
    ["an output named after an Object property", { inputs: [hidden1], outputs: [{ name: "toString" }] }, /outputs\[0\]\.name: "toString" is not an output/],
    ["an unknown output", { inputs: [hidden1], outputs: [{ name: "probs" }] }, /outputs\[0\]\.name: "probs" is not an output/],
    ["target_logprobs without targets", { inputs: [hidden1], outputs: [{ name: "target_logprobs" }] }, /needs the targets input/],
    [
      "a target below −1",
      { inputs: [hidden1, { name: "targets", datatype: "INT64", shape: [1, 1], data: [-2] }] },
      /targets\[0\]\[0\]: must be a class id ≥ 0, or −1/,
    ],
    [
      "a target past V (the core's check)",
      { inputs: [hidden1, { name: "targets", datatype: "INT64", shape: [1, 1], data: [V] }] },
      /targets\[0\]\[0\]: class id 1009 is outside/,
    ],
    ["a non-integer top_k", { inputs: [hidden1], parameters: { top_k: 2.5 } }, /parameters\.top_k: must be an integer, got 2.5/],
    ["a string temperature", { inputs: [hidden1], parameters: { temperature: "hot" } }, /parameters\.temperature: must be a number, got "hot"/],
    ["top_k past the limit (the core's check)", { inputs: [hidden1], parameters: { top_k: 5000 } }, /topK: must be an integer from 0 to 1000, got 5000/],
    ["seed without sample_n", { inputs: [hidden1], parameters: { seed: 3 } }, /parameters\.seed: is a sampling parameter: send sample_n too/],
    ["a parameter that is an object", { inputs: [hidden1], parameters: { top_k: { n: 1 } } }, /parameters\.top_k/],
  ];
  it.each(bad)("refuses %s naming the field (400), and keeps serving", async (_name, body, message) => {
    const res = await infer(app(), body);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(message);
    expect((await infer(app(), { inputs: [hidden1] })).status).toBe(200);
  });

  it("refuses hostile binary bodies cheaply, naming the header or the input", async () => {
    const header = { inputs: [{ name: "hidden", datatype: "FP32", shape: [1, D], parameters: { binary_data_size: 4 * D } }] };
    const { body, headerLength } = binaryBody(header, [le.f32(hidden[0]!)]);
    const cases: [Buffer, string, RegExp][] = [
      [body, String(body.length + 1), /Inference-Header-Content-Length: must be an integer from 0 to the body's \d+ bytes, got "\d+"/],
      [body, "-3", /Inference-Header-Content-Length: must be an integer/],
      [body.subarray(0, body.length - 4), String(headerLength), /hidden\.parameters\.binary_data_size: 64 bytes from byte 0 runs past the 60 bytes/],
      [Buffer.concat([body, Buffer.alloc(8)]), String(headerLength), /body: 8 bytes after the JSON header belong to no input/],
      [body, String(headerLength - 1), /the JSON header is not valid JSON/],
      [
        binaryBody({ inputs: [{ ...header.inputs[0], datatype: "FP16" }] }, [le.f32(hidden[0]!)]).body,
        String(headerLength),
        /hidden: has 64 bytes, shape × FP16 needs 32/,
      ],
      [
        binaryBody({ inputs: [{ ...header.inputs[0], datatype: "FP16", parameters: { binary_data_size: 2 * D } }] }, [
          halfBuffer([NaN, ...hidden[0]!.slice(1)]),
        ]).body,
        String(headerLength),
        /hidden\[0\]\[0\]: is not a finite number/,
      ],
    ];
    for (const [payload, length, message] of cases) {
      const res = await infer(app(), payload, { "content-type": "application/octet-stream", "inference-header-content-length": length });
      expect([res.status, res.json.error]).toEqual([400, expect.stringMatching(message)]);
    }
    const res = await infer(app(), body, { "content-type": "application/octet-stream", "inference-header-content-length": String(headerLength) });
    expect(res.status).toBe(200);
  });

  it("refuses a body over the limit 413 and another media type 415, in V2's envelope", async () => {
    const big = await infer(app(), Buffer.alloc((1 << 20) + 1), { "content-type": "application/octet-stream" });
    expect(big.status).toBe(413);
    const text = await app().inject({ method: "POST", url: INFER, headers: { "content-type": "text/plain" }, payload: "hi" });
    expect(text.statusCode).toBe(415);
    expect(specErrors("inference_error_response", text.json())).toEqual([]);
  });
});

describe("REST /v2 before the shards are up", () => {
  it("answers readiness 400 with an empty body, and metadata and infer 503 in V2's envelope, while live stays 200", async () => {
    const gateway = await startGateway(["127.0.0.1:1"]);
    const app = buildApp({ core: gateway.core, bodyLimitBytes: 1 << 20, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
    try {
      const status = async (method: "GET" | "POST", url: string) => {
        const res = await app.inject({
          method,
          url,
          ...(method === "POST" ? { payload: { inputs: [{ name: "hidden", datatype: "FP32", shape: [1, 1], data: [1] }] } } : {}),
        });
        if (res.body !== "") expect(specErrors("metadata_model_error_response", res.json())).toEqual([]);
        return [res.statusCode, res.body === "" ? "" : "error"];
      };
      expect(await status("GET", "/v2/health/live")).toEqual([200, ""]);
      expect(await status("GET", "/v2/health/ready")).toEqual([400, ""]);
      expect(await status("GET", "/v2/models/shardmax/ready")).toEqual([400, ""]);
      expect(await status("GET", "/v2/models/shardmax")).toEqual([503, "error"]);
      expect(await status("POST", "/v2/models/shardmax/infer")).toEqual([503, "error"]);
    } finally {
      await app.close();
      await gateway.stop();
    }
  });
});
