/**
 * The REST /v1 adapter in-process: `app.inject` against the app built over a
 * live core (in-process shards on port 0, two uneven ranges). Exact answers
 * against float64, the envelope of every kind of refusal, readiness.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../../services/gateway/app.js";
import { silentLogger } from "../../../shared/log.js";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { gemmTolerance, randomHead, randomHidden, referenceSoftmax } from "../../helpers/reference-softmax.js";

const V = 301;
const D = 16;
const head = randomHead(41, V, D, 1, 1);
head.bias[5] = -1e30;
const hidden = randomHidden(43, 4, D).map((row) => Array.from(row, Math.fround));
hidden[1] = hidden[1]!.map((x) => Math.fround(x * 200)); // logits in the hundreds

let shards: InProcessShards;
let gateway: TestGateway;
let app: FastifyInstance;
let unready: { gateway: TestGateway; app: FastifyInstance };

function appOver(core: TestGateway["core"], bodyLimitBytes = 1 << 20): FastifyInstance {
  return buildApp({ core, bodyLimitBytes, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
}

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 40],
    [40, V],
  ]);
  gateway = await startGateway(shards.addresses);
  app = appOver(gateway.core);
  // A core whose only shard address answers nothing: never ready.
  const lonely = await startGateway(["127.0.0.1:1"]);
  unready = { gateway: lonely, app: appOver(lonely.core) };
});

afterAll(async () => {
  await Promise.all([app.close(), unready.app.close()]);
  await Promise.all([gateway.stop(), unready.gateway.stop()]);
  await shards.stop();
});

const post = (body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
  app.inject({ method: "POST", url: "/v1/softmax", headers, payload: typeof body === "string" ? body : JSON.stringify(body) });

describe("POST /v1/softmax", () => {
  it("answers exactly: logZ, top-k and targets against float64", async () => {
    const targets = hidden.map((_, r) => [0, 5, 39, 40, V - 1, (r * 97) % V]);
    const res = await post({ hidden, topK: 7, targets, temperature: 0.7 });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model).toEqual(gateway.core.requireReady());
    const refs = referenceSoftmax(head, hidden, 7, 0.7);
    body.results.forEach((row: any, r: number) => {
      const ref = refs[r]!;
      const tol = gemmTolerance(ref, D);
      expect(Math.abs(row.logZ - ref.logZ)).toBeLessThanOrEqual(tol);
      expect(row.top.map((t: any) => t.id)).toEqual(ref.topIds);
      for (const t of row.targets) {
        if (t.id === 5) expect(t.logprob).toBeLessThan(-1e29);
        else expect(Math.abs(t.logprob - ref.logProbs[t.id]!)).toBeLessThanOrEqual(tol);
      }
    });
  });

  it("streams a large answer as the same JSON", async () => {
    const many = Array.from({ length: 200 }, (_, r) => hidden[r % hidden.length]!);
    const res = await post({ hidden: many, topK: 60 });
    expect(res.statusCode).toBe(200);
    expect(res.payload.length).toBeGreaterThan(1 << 20);
    const body = res.json();
    expect(body.results).toHaveLength(200);
    expect(body.results[4].top).toEqual(body.results[0].top);
  });

  it.each([
    ["a string topK", { hidden, topK: "3" }, 400, "INVALID_ARGUMENT", /^topK: /],
    ["an unknown field", { hidden, extra: 1 }, 400, "INVALID_ARGUMENT", /^"extra": is not a known field/],
    ["a wrong d", { hidden: [[1, 2]] }, 400, "INVALID_ARGUMENT", /d=16/],
    ["zero draws", { hidden, sample: { n: 0 } }, 400, "INVALID_ARGUMENT", /^sample\.n: /],
    ["a sample without n", { hidden, sample: {} }, 400, "INVALID_ARGUMENT", /^sample\.n: is required/],
    ["topK over V", { hidden, topK: V + 1 }, 400, "INVALID_ARGUMENT", /^topK: must be an integer from 0 to 301/],
    ["broken JSON", "{not json", 400, "MALFORMED_REQUEST", /not valid JSON/],
  ])("refuses %s in the /v1 envelope", async (_name, body, status, code, message) => {
    const res = await post(body);
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
    expect(res.json().error.message).toMatch(message);
  });

  it("refuses a body that is not JSON and a body over the limit, naming the limit", async () => {
    const text = await post("hello", { "content-type": "text/plain" });
    expect([text.statusCode, text.json().error.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    const small = appOver(gateway.core, 1000);
    const big = await small.inject({
      method: "POST",
      url: "/v1/softmax",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ hidden }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.message).toMatch(/--body-limit-bytes 1000/);
    await small.close();
  });
});

describe("model, health, readiness", () => {
  it("GET /v1/model shows the model and both ranges", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/model" });
    const body = res.json();
    expect(body.ready).toBe(true);
    expect(body.model.vocabSize).toBe(V);
    expect(body.ranges.map((r: any) => [r.start, r.end])).toEqual([
      [0, 40],
      [40, V],
    ]);
  });

  it("/healthz is always ok; /readyz follows the core's readiness", async () => {
    expect((await unready.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "ready", ranges: 2 });
    const res = await unready.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe("NOT_READY");
    const query = await unready.app.inject({
      method: "POST",
      url: "/v1/softmax",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ hidden }),
    });
    expect([query.statusCode, query.json().error.code]).toEqual([503, "NOT_READY"]);
    const model = (await unready.app.inject({ method: "GET", url: "/v1/model" })).json();
    expect(model).toMatchObject({ model: null, ready: false, labels: null, ranges: [] });
    expect(model.reason).toMatch(/no shard has answered/);
  });

  it("an unknown route is 404 in the envelope", async () => {
    const res = await app.inject({ method: "GET", url: "/v1/nothing" });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toEqual({ code: "NOT_FOUND", message: 'GET "/v1/nothing": no such route' });
  });
});
