/**
 * Fuzzed wire input against real in-process servers: REST /v1 bodies (through
 * fastify's inject on the gateway's own app), Softmax.Query messages and raw
 * bytes to the gateway's gRPC door, Shard.Partial messages and raw bytes to a
 * shard. Random lengths, rows × dim that disagree with the bytes, huge counts,
 * NaN/Inf payloads, wrong fingerprints. Every case is answered exactly (checked
 * against float64) or refused with a documented code carrying its documented
 * status; afterwards a good query is still answered exactly.
 */
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApp } from "../../services/gateway/app.js";
import { CODE_METADATA_KEY, ERROR_CODES, type ErrorCode } from "../../shared/errors.js";
import { shardmaxProto } from "../../shared/grpc/proto.js";
import { silentLogger } from "../../shared/log.js";
import { fuzzParameters, hostileValue } from "../helpers/fuzz.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import {
  gemmTolerance,
  logZTolerance,
  randomHead,
  randomHidden,
  referenceLogits,
  referenceLogSumExp,
  referenceSoftmax,
  within,
} from "../helpers/reference-softmax.js";

const V = 301;
const D = 8;
const SPLIT = 120;
const head = randomHead(16, V, D, 0.5, 1);
let shards: InProcessShards;
let gateway: TestGateway;
let app: FastifyInstance;
type Callable = grpc.Client &
  Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: any) => void) => void>;
let softmax: Callable;
let shard: Callable;
let raw: grpc.Client;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, SPLIT],
    [SPLIT, V],
  ]);
  gateway = await startGateway(shards.addresses, {
    limits: { maxRows: 64, maxTopK: 1000, maxTargetsPerRow: 100, maxResponseBytes: 1 << 20, maxDraws: 8 },
    lingerUs: 0,
  });
  app = buildApp({ core: gateway.core, bodyLimitBytes: 1 << 16, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
  await app.ready();
  const proto = shardmaxProto();
  softmax = new proto.Softmax(gateway.grpcAddress, grpc.credentials.createInsecure()) as unknown as Callable;
  shard = new proto.Shard(shards.addresses[0]!, grpc.credentials.createInsecure()) as unknown as Callable;
  raw = new grpc.Client(gateway.grpcAddress, grpc.credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  softmax?.close();
  shard?.close();
  raw?.close();
  await app?.close();
  await gateway?.stop();
  await shards?.stop();
});

const extreme = fc.constantFrom(0, -0, 1, -1, 1e4, -1e4, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45);
const finite = fc.oneof(
  { weight: 20, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e4, -1e4, 1e-45) },
);
const number = fc.oneof({ weight: 6, arbitrary: finite }, { weight: 1, arbitrary: extreme });
const rows = fc.integer({ min: 1, max: 4 });
const goodTemperature = fc.constantFrom(1, 0.5, 2, 0.01);

/**
 * Requests of three kinds: valid ones (answered, and checked), valid ones
 * with one field replaced by something hostile, and hostile through and through.
 */
function mutated<T extends Record<string, unknown>>(valid: fc.Arbitrary<T>, hostile: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const keys = Object.keys(hostile);
  const one = valid.chain((v) => fc.constantFrom(...keys).chain((k) => hostile[k]!.map((bad) => ({ ...v, [k]: bad }))));
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 3, arbitrary: one }, { weight: 1, arbitrary: hostileValue });
}

function expectRefusal(status: number, code: unknown, grpcStatus?: number): void {
  expect(Object.keys(ERROR_CODES)).toContain(code);
  const entry = ERROR_CODES[code as ErrorCode];
  if (grpcStatus === undefined) expect(status).toBe(entry.http);
  else expect(grpcStatus).toBe(entry.grpc);
}

/** Checks an answered query against float64; rows carry logZ and top ids/logprobs. */
function expectExact(hidden: number[][], topK: number, temperature: number, results: { logZ: number; top: { id: number; logprob: number }[] }[]): void {
  const refs = referenceSoftmax(head, hidden, topK, temperature);
  expect(results.length).toBe(hidden.length);
  results.forEach((got, r) => {
    const ref = refs[r]!;
    const tol = Math.max(logZTolerance(ref), gemmTolerance(ref, D));
    expect(within(got.logZ, ref.logZ, tol)).toBe(true);
    expect(got.top.length).toBe(Math.min(topK, V));
    for (const t of got.top) expect(within(t.logprob, ref.logProbs[t.id]!, 2 * tol)).toBe(true);
    // The ids are the float64 top k: a swap is allowed only between classes float32 cannot tell apart.
    const kth = topK > 0 ? ref.logProbs[ref.topIds[Math.min(topK, V) - 1]!]! : Number.NEGATIVE_INFINITY;
    for (const t of got.top) expect(ref.logProbs[t.id]!).toBeGreaterThanOrEqual(kth - 2 * tol);
  });
}

const validBody = rows.chain((n) =>
  fc.record(
    {
      hidden: fc.array(fc.array(finite, { minLength: D, maxLength: D }), { minLength: n, maxLength: n }),
      topK: fc.integer({ min: 0, max: 12 }),
      temperature: goodTemperature,
      targets: fc.array(fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 3 }), { minLength: n, maxLength: n }),
    },
    { requiredKeys: ["hidden"] },
  ),
);
const restBody = mutated(validBody, {
  hidden: fc.oneof(hostileValue, fc.array(fc.array(number, { maxLength: D + 2 }), { maxLength: 70 })),
  topK: fc.oneof(hostileValue, fc.constantFrom(-1, 1001, 2 ** 32)),
  temperature: fc.oneof(hostileValue, fc.constantFrom(0, -1)),
  targets: fc.oneof(hostileValue, fc.array(fc.array(fc.integer({ min: -1, max: V + 1 }), { maxLength: 3 }), { maxLength: 4 })),
  extra: hostileValue,
});

/** How many cases each property answered: a generator that only ever produces refusals would prove nothing. */
const answered = { rest: 0, query: 0, partial: 0 };

it("answers REST /v1/softmax bodies exactly or refuses them in the documented envelope", async () => {
  await fc.assert(
    fc.asyncProperty(restBody, fc.boolean(), async (body, asText) => {
      const payload = asText ? (JSON.stringify(body)?.slice(0, -1) ?? "") : (JSON.stringify(body) ?? "null");
      const res = await app.inject({ method: "POST", url: "/v1/softmax", headers: { "content-type": "application/json" }, payload });
      const reply = res.json() as { results?: any[]; error?: { code: string; message: string } };
      if (res.statusCode === 200) {
        const b = body as { hidden: number[][]; topK?: number; temperature?: number };
        expectExact(b.hidden, b.topK ?? 5, b.temperature ?? 1, reply.results!);
        answered.rest++;
      } else {
        expectRefusal(res.statusCode, reply.error?.code);
        expect(reply.error!.message.length).toBeGreaterThan(0);
      }
    }),
    fuzzParameters(1500),
  );
  expect(answered.rest).toBeGreaterThan(50);
}, 120_000);

function floatBytes(values: number[], extraBytes: number): Buffer {
  const out = Buffer.alloc(values.length * 4 + extraBytes);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

function unary(client: Callable, method: string, request: unknown): Promise<{ err: grpc.ServiceError | null; res?: any }> {
  return new Promise((resolve) => client[method]!(request, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => resolve({ err, res })));
}

function expectGrpcRefusal(err: grpc.ServiceError): void {
  const code = err.metadata?.get(CODE_METADATA_KEY)[0];
  expectRefusal(0, code, err.code);
}

interface QueryCase {
  rows: number;
  dim: number;
  values: number[];
  extraBytes: number;
  topK?: number | undefined;
  temperature?: number | undefined;
  targets: { ids: number[] }[];
  sample?: { n: number; seeds: number[] } | undefined;
}

const validQuery: fc.Arbitrary<QueryCase> = rows.chain((n) =>
  fc.record({
    rows: fc.constant(n),
    dim: fc.constant(D),
    values: fc.array(finite, { minLength: n * D, maxLength: n * D }),
    extraBytes: fc.constant(0),
    topK: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    temperature: fc.option(goodTemperature, { nil: undefined }),
    targets: fc.oneof(
      fc.constant([]),
      fc.array(fc.record({ ids: fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 3 }) }), { minLength: n, maxLength: n }),
    ),
  }),
);
const grpcQuery = fc.oneof(
  { weight: 3, arbitrary: validQuery },
  {
    weight: 3,
    arbitrary: validQuery.chain((q) =>
      fc.oneof(
        fc.constantFrom(0, q.rows + 1, 65, 2 ** 32 - 1).map((r) => ({ ...q, rows: r })),
        fc.integer({ min: 0, max: D + 2 }).map((d) => ({ ...q, dim: d })),
        fc.array(number, { maxLength: 40 }).map((values) => ({ ...q, values })),
        fc.constantFrom(1, 3).map((extraBytes) => ({ ...q, extraBytes })),
        fc.constantFrom(1001, 2 ** 32 - 1).map((topK) => ({ ...q, topK })),
        extreme.map((temperature) => ({ ...q, temperature })),
        fc.array(fc.record({ ids: fc.array(fc.integer({ min: 0, max: V + 3 }), { maxLength: 3 }) }), { maxLength: 5 }).map((targets) => ({ ...q, targets })),
        fc
          .record({ n: fc.integer({ min: 0, max: 10 }), seeds: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 5 }) })
          .map((sample) => ({ ...q, sample })),
      ),
    ),
  },
);

it("answers Softmax.Query messages exactly or refuses them with a documented code", async () => {
  await fc.assert(
    fc.asyncProperty(grpcQuery, async (q) => {
      const request = { ...q, hidden: floatBytes(q.values, q.extraBytes) };
      const { err, res } = await unary(softmax, "query", request);
      if (err) return expectGrpcRefusal(err);
      if (q.sample) return;
      const hidden = Array.from({ length: q.rows }, (_, r) => q.values.slice(r * q.dim, (r + 1) * q.dim).map(Math.fround));
      expectExact(hidden, q.topK ?? 5, q.temperature ?? 1, res.results);
      answered.query++;
    }),
    fuzzParameters(800),
  );
  expect(answered.query).toBeGreaterThan(20);
}, 120_000);

interface PartialCase {
  rows: number;
  dim: number;
  values: number[];
  extraBytes: number;
  topK: number;
  temperature: number;
  targetCounts: number[];
  targetIds: number[];
  fingerprint: string;
  drawCounts: number[];
}

const validPartial: fc.Arbitrary<PartialCase> = rows.chain((n) =>
  fc.record({
    rows: fc.constant(n),
    dim: fc.constant(D),
    values: fc.array(finite, { minLength: n * D, maxLength: n * D }),
    extraBytes: fc.constant(0),
    topK: fc.integer({ min: 0, max: 12 }),
    temperature: fc.constantFrom(0, 1, 0.5, 2),
    targetCounts: fc.constant([] as number[]),
    targetIds: fc.constant([] as number[]),
    fingerprint: fc.constantFrom("", "sha256:test-head"),
    drawCounts: fc.constant([] as number[]),
  }),
);
const partial = fc.oneof(
  { weight: 3, arbitrary: validPartial },
  {
    weight: 3,
    arbitrary: validPartial.chain((p) =>
      fc.oneof(
        fc.constantFrom(0, p.rows + 1, 5000, 2 ** 32 - 1).map((r) => ({ ...p, rows: r })),
        fc.integer({ min: 0, max: D + 2 }).map((d) => ({ ...p, dim: d })),
        fc.array(number, { maxLength: 40 }).map((values) => ({ ...p, values })),
        fc.constantFrom(2, 5).map((extraBytes) => ({ ...p, extraBytes })),
        fc.constantFrom(SPLIT + 1, 1001, 2 ** 32 - 1).map((topK) => ({ ...p, topK })),
        extreme.map((temperature) => ({ ...p, temperature })),
        fc
          .tuple(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }), fc.array(fc.integer({ min: 0, max: V }), { maxLength: 6 }))
          .map(([targetCounts, targetIds]) => ({ ...p, targetCounts, targetIds })),
        fc.constant({ ...p, fingerprint: "sha256:other-head" }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }).map((drawCounts) => ({ ...p, drawCounts })),
      ),
    ),
  },
);

it("answers Shard.Partial messages exactly or refuses them with a documented code", async () => {
  await fc.assert(
    fc.asyncProperty(partial, async (p) => {
      const u32 = (values: number[]) => Buffer.from(Uint32Array.from(values).buffer);
      const request = {
        rows: p.rows,
        dim: p.dim,
        hidden: floatBytes(p.values, p.extraBytes),
        topK: p.topK,
        temperature: p.temperature,
        targetCounts: p.targetCounts,
        targetIds: u32(p.targetIds),
        fingerprint: p.fingerprint,
        drawCounts: u32(p.drawCounts),
      };
      const { err, res } = await unary(shard, "partial", request);
      if (err) return expectGrpcRefusal(err);
      expect(p.fingerprint).not.toBe("sha256:other-head");
      if (p.targetIds.length > 0 || p.drawCounts.some((c) => c > 0)) return;
      const t = p.temperature === 0 ? 1 : p.temperature;
      const max = new Float64Array(Uint8Array.from(res.max).buffer);
      const sumExp = new Float64Array(Uint8Array.from(res.sumExp).buffer);
      const k = res.k as number;
      const topIds = new Uint32Array(Uint8Array.from(res.topIds).buffer);
      const topLogits = new Float32Array(Uint8Array.from(res.topLogits).buffer);
      expect(max.length).toBe(p.rows);
      expect(k).toBe(Math.min(p.topK, SPLIT));
      for (let r = 0; r < p.rows; r++) {
        const logits = referenceLogits(head, p.values.slice(r * p.dim, (r + 1) * p.dim).map(Math.fround), t).subarray(0, SPLIT);
        const refMax = Math.max(...logits);
        const tol = 1e-4 + 8 * D * 2 ** -24 * Math.max(1, Math.abs(refMax));
        expect(within(max[r]!, refMax, tol)).toBe(true);
        expect(within(max[r]! + Math.log(sumExp[r]!), referenceLogSumExp(logits), 2 * tol)).toBe(true);
        // The top k: k distinct ids, each scored as float64 scores it, none below the float64 k-th best (up to rounding).
        const kth = k > 0 ? [...logits].sort((a, b) => b - a)[k - 1]! : Number.NEGATIVE_INFINITY;
        const ids = Array.from(topIds.subarray(r * k, (r + 1) * k));
        expect(new Set(ids).size).toBe(k);
        ids.forEach((id, j) => {
          expect(within(topLogits[r * k + j]!, logits[id]!, tol)).toBe(true);
          expect(logits[id]!).toBeGreaterThanOrEqual(kth - 2 * tol);
        });
      }
      answered.partial++;
    }),
    fuzzParameters(800),
  );
  expect(answered.partial).toBeGreaterThan(20);
}, 120_000);

it("refuses random bytes as a Query or a Partial, and keeps answering exactly", async () => {
  const shardRaw = new grpc.Client(shards.addresses[0]!, grpc.credentials.createInsecure());
  try {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (bytes, toShard) => {
        const client = toShard ? shardRaw : raw;
        const path = toShard ? "/shardmax.v1.Shard/Partial" : "/shardmax.v1.Softmax/Query";
        const status = await new Promise<grpc.ServiceError | null>((resolve) =>
          client.makeUnaryRequest(
            path,
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.from(bytes),
            { deadline: Date.now() + 10_000 },
            (err) => resolve(err),
          ),
        );
        // Bytes that happen to decode to a valid empty request may be answered; everything else is refused, never a crash or hang.
        if (status)
          expect([
            grpc.status.INVALID_ARGUMENT,
            grpc.status.INTERNAL,
            grpc.status.RESOURCE_EXHAUSTED,
            grpc.status.FAILED_PRECONDITION,
            grpc.status.UNAVAILABLE,
          ]).toContain(status.code);
      }),
      fuzzParameters(600),
    );
  } finally {
    shardRaw.close();
  }
  const hidden = randomHidden(9, 3, D).map((r) => Array.from(r, Math.fround));
  const answer = await gateway.post("/v1/softmax", { hidden, topK: 4 });
  expect(answer.status).toBe(200);
  expectExact(hidden, 4, 1, answer.body.results);
}, 120_000);
