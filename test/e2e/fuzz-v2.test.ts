/**
 * Fuzzed Open Inference Protocol (V2) REST bodies against the gateway's own
 * app (inject) over real in-process shards: JSON tensors (flat or nested,
 * with shapes, datatypes, parameters and outputs made hostile one field at a
 * time or throughout) and binary bodies (header lengths and binary_data_size
 * that disagree with the bytes). Every case is answered exactly (logsumexp and
 * the top-k against float64) or refused as `{"error": "…"}` with a status of
 * the error table; afterwards a good request is still answered.
 */
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApp } from "../../services/gateway/app.js";
import { ERROR_CODES } from "../../shared/errors.js";
import { silentLogger } from "../../shared/log.js";
import { fuzzParameters, hostileValue } from "../helpers/fuzz.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { gemmTolerance, logZTolerance, randomHead, referenceSoftmax, within } from "../helpers/reference-softmax.js";
import { fromHalfBits, toHalfBits } from "../helpers/v2-spec.js";

const V = 211;
const D = 6;
const head = randomHead(23, V, D, 0.5, 1);
const INFER = "/v2/models/shardmax/infer";
const STATUSES = new Set<number>(Object.values(ERROR_CODES).map((e) => e.http));
let shards: InProcessShards;
let gateway: TestGateway;
let app: FastifyInstance;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 90],
    [90, V],
  ]);
  gateway = await startGateway(shards.addresses, {
    limits: { maxRows: 32, maxTopK: 1000, maxTargetsPerRow: 50, maxResponseBytes: 1 << 20, maxDraws: 8 },
    lingerUs: 0,
  });
  app = buildApp({ core: gateway.core, bodyLimitBytes: 1 << 16, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
  await app.ready();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await gateway?.stop();
  await shards?.stop();
});

const finite = fc.double({ min: -4, max: 4, noNaN: true });
const odd = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1e39, 3.4e38, 1e-45);
const value = fc.oneof({ weight: 8, arbitrary: finite }, { weight: 1, arbitrary: odd });

interface Case {
  rows: number;
  hidden: number[];
  topK: number;
  nested: boolean;
}

const valid: fc.Arbitrary<Case> = fc.integer({ min: 1, max: 3 }).chain((rows) =>
  fc.record({
    rows: fc.constant(rows),
    hidden: fc.array(finite, { minLength: rows * D, maxLength: rows * D }),
    topK: fc.integer({ min: 0, max: 8 }),
    nested: fc.boolean(),
  }),
);

function jsonBody(c: Case): Record<string, unknown> {
  const data = c.nested ? Array.from({ length: c.rows }, (_, r) => c.hidden.slice(r * D, (r + 1) * D)) : c.hidden;
  return { inputs: [{ name: "hidden", datatype: "FP32", shape: [c.rows, D], data }], parameters: { top_k: c.topK } };
}

/** A valid body with one part replaced by something hostile. */
const hostileJson = valid.chain((c) => {
  const body = jsonBody(c);
  const input = (body.inputs as Record<string, unknown>[])[0]!;
  const withInput = (patch: Record<string, unknown>) => ({ ...body, inputs: [{ ...input, ...patch }] });
  return fc.oneof(
    hostileValue.map((name) => withInput({ name })),
    fc.oneof(hostileValue, fc.constantFrom("FP16", "INT64", "BYTES", "FP8")).map((datatype) => withInput({ datatype })),
    fc.oneof(hostileValue, fc.array(fc.integer({ min: -2, max: 2 ** 31 }), { maxLength: 4 })).map((shape) => withInput({ shape })),
    fc.oneof(hostileValue, fc.array(value, { maxLength: 30 })).map((data) => withInput({ data })),
    fc.oneof(hostileValue, fc.dictionary(fc.constantFrom("top_k", "temperature", "sample_n", "seed", "top_p"), hostileValue)).map((parameters) => ({
      ...body,
      parameters,
    })),
    fc.oneof(hostileValue, fc.array(fc.record({ name: fc.oneof(hostileValue, fc.constantFrom("top_ids", "nope")) }), { maxLength: 3 })).map((outputs) => ({
      ...body,
      outputs,
    })),
    hostileValue.map((inputs) => ({ ...body, inputs })),
    fc.constant({ ...body, inputs: [input, input] }),
  );
});

/** Checks an answer against float64; outputs the request left out (it named others) are not there to check. */
function expectAnswer(c: Case, reply: { outputs: { name: string; data: number[] }[] }, temperature = 1): void {
  const rows = Array.from({ length: c.rows }, (_, r) => c.hidden.slice(r * D, (r + 1) * D).map(Math.fround));
  const refs = referenceSoftmax(head, rows, c.topK, temperature);
  const out = (name: string) => reply.outputs.find((o) => o.name === name)?.data;
  refs.forEach((ref, r) => {
    const tol = Math.max(logZTolerance(ref), gemmTolerance(ref, D));
    const logsumexp = out("logsumexp");
    if (logsumexp) expect(within(logsumexp[r]!, ref.logZ, tol)).toBe(true);
    const topIds = out("top_ids");
    if (topIds) expect(topIds.slice(r * c.topK, (r + 1) * c.topK)).toEqual(ref.topIds);
  });
}

/**
 * What a hostile-looking body that was answered asked for, read back from the
 * body itself (an FP32 `hidden` with data of its shape), or null when the body
 * cannot have been a valid request: then the answer itself is the defect.
 */
function answeredCase(body: unknown): { c: Case; temperature: number } | null {
  const b = body as { inputs?: { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown }[]; parameters?: Record<string, unknown> };
  const input = Array.isArray(b?.inputs) && b.inputs.length === 1 ? b.inputs[0] : undefined;
  const datatypes = ["FP16", "FP32", "FP64"];
  if (input?.name !== "hidden" || !datatypes.includes(input.datatype as string) || !Array.isArray(input.shape) || !Array.isArray(input.data)) return null;
  const rows = input.shape[0] as number;
  const sent = (input.data as unknown[]).flat() as number[];
  // FP16 values reach the shards as the half-precision numbers they round to.
  const hidden = input.datatype === "FP16" ? sent.map((x) => fromHalfBits(toHalfBits(x))) : sent;
  const topK = (b.parameters?.top_k as number | undefined) ?? 5;
  const temperature = (b.parameters?.temperature as number | undefined) ?? 1;
  return { c: { rows, hidden, topK, nested: false }, temperature };
}

function expectRefusal(status: number, payload: string): void {
  expect(STATUSES.has(status), `status ${status}`).toBe(true);
  const reply = JSON.parse(payload) as { error?: unknown };
  expect(typeof reply.error).toBe("string");
  expect((reply.error as string).length).toBeGreaterThan(0);
}

const answered = { json: 0, binary: 0, hostile: 0 };

it("answers V2 JSON infer bodies exactly or refuses them as {error} with a documented status", async () => {
  const bodies = fc.oneof(
    { weight: 2, arbitrary: valid.map((c) => ({ c, body: jsonBody(c) as unknown })) },
    { weight: 3, arbitrary: hostileJson.map((body) => ({ c: null, body })) },
    { weight: 1, arbitrary: hostileValue.map((body) => ({ c: null, body })) },
  );
  await fc.assert(
    fc.asyncProperty(bodies, async ({ c, body }) => {
      const res = await app.inject({ method: "POST", url: INFER, headers: { "content-type": "application/json" }, payload: JSON.stringify(body) ?? "null" });
      if (c) {
        // A valid request is answered, exactly.
        expect(res.statusCode, res.payload).toBe(200);
        expectAnswer(c, res.json());
        answered.json++;
      } else if (res.statusCode === 200) {
        // A hostile-looking body that was still a valid request (e.g. a temperature, an outputs list): exact too.
        const asked = answeredCase(body);
        expect(asked, JSON.stringify(body).slice(0, 300)).not.toBeNull();
        expectAnswer(asked!.c, res.json(), asked!.temperature);
        answered.hostile++;
      } else expectRefusal(res.statusCode, res.payload);
    }),
    fuzzParameters(600),
  );
  expect(answered.json).toBeGreaterThan(50);
  expect(answered.hostile).toBeGreaterThan(0);
}, 120_000);

it("answers V2 binary bodies exactly or refuses them, whatever the header and sizes say", async () => {
  const cases = valid.chain((c) =>
    fc.record({
      c: fc.constant(c),
      sizeDelta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -8, max: 8 }) }),
      headerDelta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: -20, max: 20 }) }),
      trailing: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 9 }) }),
      headerValue: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom("-1", "abc", "1e9", "", "99999999999") }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(cases, async ({ c, sizeDelta, headerDelta, trailing, headerValue }) => {
      const bytes = Buffer.from(Float32Array.from(c.hidden).buffer);
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: "hidden", datatype: "FP32", shape: [c.rows, D], parameters: { binary_data_size: bytes.length + sizeDelta } }],
          parameters: { top_k: c.topK },
        }),
      );
      const payload = Buffer.concat([header, bytes, Buffer.alloc(trailing)]);
      const length = headerValue ?? String(header.length + headerDelta);
      const res = await app.inject({
        method: "POST",
        url: INFER,
        headers: { "content-type": "application/octet-stream", "inference-header-content-length": length },
        payload,
      });
      const exact = sizeDelta === 0 && headerDelta === 0 && trailing === 0 && headerValue === null;
      if (res.statusCode === 200) {
        expect(exact).toBe(true);
        expectAnswer(c, res.json());
        answered.binary++;
      } else expectRefusal(res.statusCode, res.payload);
    }),
    fuzzParameters(400),
  );
  expect(answered.binary).toBeGreaterThan(30);
}, 120_000);

it("still answers a good request afterwards", async () => {
  const c: Case = { rows: 1, hidden: Array.from({ length: D }, (_, i) => Math.sin(i)), topK: 3, nested: false };
  const res = await app.inject({ method: "POST", url: INFER, headers: { "content-type": "application/json" }, payload: JSON.stringify(jsonBody(c)) });
  expect(res.statusCode).toBe(200);
  expectAnswer(c, res.json());
});
