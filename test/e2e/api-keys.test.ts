/**
 * API keys and per-key quotas on a real gateway (in-process shards): REST and
 * gRPC refuse a missing or unknown key in their own envelopes, probes stay
 * open, a good key gets exact answers, the key file is re-read when it
 * changes, and a key over its rows quota gets 429 + Retry-After (gRPC
 * RESOURCE_EXHAUSTED) while another key is still served. Keys never reach the log.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { createLogger } from "../../shared/log.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir } from "../helpers/heads.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { waitFor } from "../helpers/processes.js";
import { randomHead, randomHidden, referenceSoftmax, within } from "../helpers/reference-softmax.js";

const V = 501;
const D = 8;
const head = randomHead(15, V, D, 0.5, 1);
const KEY = "k-alpha-0123456789";
const OTHER = "k-beta-9876543210";
let shards: InProcessShards;
let gateway: TestGateway;
let keyFile: string;
const logLines: string[] = [];

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 200],
    [200, V],
  ]);
  keyFile = join(await tempDir(), "keys");
  writeFileSync(keyFile, `# operators\n${KEY}\n\n${OTHER}\n`);
  gateway = await startGateway(shards.addresses, { apiKeysFile: keyFile, keyRateLimit: { rowsPerS: 10 } });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await shards?.stop();
});

const hidden = randomHidden(4, 2, D).map((r) => Array.from(r, Math.fround));

function post(body: unknown, key?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  return fetch(`${gateway.url}/v1/softmax`, { method: "POST", headers, body: JSON.stringify(body) });
}

it("refuses REST queries without a valid key in /v1's envelope with WWW-Authenticate, and keeps probes open", async () => {
  for (const headers of [
    {} as Record<string, string>,
    { authorization: "Bearer nope" },
    { authorization: `Basic ${KEY}` },
    { authorization: `Bearer ${KEY}x` },
  ]) {
    const res = await fetch(`${gateway.url}/v1/model`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(((await res.json()) as any).error.code).toBe("UNAUTHENTICATED");
  }
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
  expect((await fetch(`${gateway.url}/v1/model`, { headers: { authorization: `bearer ${KEY}` } })).status).toBe(200);
});

it("answers a good key exactly on REST and gRPC, refuses gRPC without one, and keeps gRPC health open", async () => {
  const res = await post({ hidden, topK: 3 }, KEY);
  expect(res.status).toBe(200);
  const refs = referenceSoftmax(head, hidden, 3);
  const body = (await res.json()) as any;
  body.results.forEach((row: { logZ: number }, r: number) => expect(within(row.logZ, refs[r]!.logZ, 1e-4)).toBe(true));

  const anonymous = new ShardmaxClient(gateway.grpcAddress);
  const wrong = new ShardmaxClient(gateway.grpcAddress, { apiKey: "wrong" });
  const good = new ShardmaxClient(gateway.grpcAddress, { apiKey: OTHER });
  try {
    await expect(anonymous.query({ hidden, topK: 3 })).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    await expect(wrong.query({ hidden, topK: 3 })).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    await expect(anonymous.info()).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    const answer = await good.query({ hidden, topK: 3 });
    answer.results.forEach((row, r) => expect(within(row.logZ, refs[r]!.logZ, 1e-4)).toBe(true));
  } finally {
    anonymous.close();
    wrong.close();
    good.close();
  }
  const health = new grpc.Client(gateway.grpcAddress, grpc.credentials.createInsecure());
  // An empty HealthCheckRequest asks for the server as a whole.
  const status = await new Promise<number>((resolve) => {
    health.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      () => Buffer.alloc(0),
      (b: Buffer) => b,
      {},
      (err) => resolve(err ? err.code : 0),
    );
  });
  expect(status).toBe(grpc.status.OK);
  health.close();
});

it("takes a key over its rows quota to 429 + Retry-After (gRPC RESOURCE_EXHAUSTED), and other keys are unaffected", async () => {
  // 10 rows/s: 40 rows leave the key about 3 s in debt.
  const big = randomHidden(5, 40, D).map((r) => Array.from(r, Math.fround));
  expect((await post({ hidden: big, topK: 1 }, KEY)).status).toBe(200);
  const refused = await post({ hidden, topK: 1 }, KEY);
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(((await refused.json()) as any).error.code).toBe("RATE_LIMITED");
  const sdk = new ShardmaxClient(gateway.grpcAddress, { apiKey: KEY });
  try {
    await expect(sdk.query({ hidden, topK: 1 })).rejects.toMatchObject({ code: "RATE_LIMITED" });
  } finally {
    sdk.close();
  }
  expect((await post({ hidden, topK: 1 }, OTHER)).status).toBe(200);
});

it("re-reads the key file when it changes: a removed key is refused, a new one accepted", async () => {
  const NEW = "k-gamma-5555";
  writeFileSync(keyFile, `${OTHER}\n${NEW}\n`);
  const accepted = async () => (await fetch(`${gateway.url}/v1/model`, { headers: { authorization: `Bearer ${NEW}` } })).status === 200;
  await waitFor(accepted, 10_000, "the new key accepted");
  expect((await fetch(`${gateway.url}/v1/model`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(401);
});

it("never writes a key to the log, even when refusing it", async () => {
  const file = join(await tempDir(), "keys");
  writeFileSync(file, `${KEY}\n`);
  const logged = await startGateway(
    shards.addresses,
    { apiKeysFile: file, lingerUs: 0 },
    createLogger("gateway", (line) => logLines.push(line)),
  );
  try {
    await fetch(`${logged.url}/v1/model`, { headers: { authorization: `Bearer ${KEY}-wrong` } });
    await fetch(`${logged.url}/v1/model`, { headers: { authorization: `Bearer ${KEY}` } });
    writeFileSync(file, `${KEY}\n${OTHER}\n`);
    // The reload happened (so its log lines are in), before the log is read.
    await waitFor(async () => (await fetch(`${logged.url}/v1/model`, { headers: { authorization: `Bearer ${OTHER}` } })).status === 200, 10_000, "the reload");
  } finally {
    await logged.stop();
  }
  expect(logLines.length).toBeGreaterThan(0);
  expect(logLines.join("\n")).not.toContain("k-alpha");
  expect(logLines.join("\n")).not.toContain("k-beta");
});
