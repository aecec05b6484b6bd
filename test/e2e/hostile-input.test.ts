/**
 * Issue 10's hostile requests against real shard processes and a real
 * gateway: each gets a fast refusal in the protocol's own envelope naming the
 * limit and the value, and the gateway keeps serving (readiness and a known
 * good query are checked after each).
 */
import { connect } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient, ShardmaxError } from "../../sdk/index.js";
import { shardmaxProto } from "../../shared/grpc/proto.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

const V = 300;
const D = 8;
const row = Array.from(randomHidden(4, 1, D)[0]!);
const RESPONSE_LIMIT = 64 * 1024;

let shards: ShardProcess[] = [];
let gateway: TestGateway;
let client: ShardmaxClient;

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), randomHead(6, V, D));
  shards = await Promise.all([0, 1].map((i) => startShard(["--weights", file, "--shard", `${i}/2`, "--listen", "127.0.0.1:0", "--threads", "1"])));
  gateway = await startGateway(
    shards.map((s) => s.address),
    { limits: { maxRows: 64, maxTopK: 1000, maxTargetsPerRow: 1000, maxResponseBytes: RESPONSE_LIMIT, maxDraws: 64 }, requestTimeoutMs: 1000 },
  );
  client = new ShardmaxClient(gateway.grpcAddress);
});

afterAll(async () => {
  client.close();
  await gateway.stop();
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
});

async function expectServing(): Promise<void> {
  expect((await gateway.get("/readyz")).status).toBe(200);
  const { status, body } = await gateway.post("/v1/softmax", { hidden: [row], topK: 3 });
  expect(status).toBe(200);
  expect(body.results[0].top).toHaveLength(3);
}

/** Writes raw bytes to the REST port and returns what comes back before the server closes. */
function raw(request: string, keepOpenMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(gateway.httpPort, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
    socket.write(request);
    if (keepOpenMs === 0) socket.end();
  });
}

function envelopeOf(response: string): { status: number; code: string; message: string } {
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1]);
  const body = JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4)) as { error: { code: string; message: string } };
  return { status, ...body.error };
}

describe("the answer's cost is bounded before any work", () => {
  it("REST: rows × topK over --max-response-bytes is 413 naming the limit and the value", async () => {
    const res = await gateway.post("/v1/softmax", { hidden: Array(64).fill(row), topK: 300 });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("REQUEST_TOO_LARGE");
    expect(res.body.error.message).toMatch(new RegExp(`--max-response-bytes ${RESPONSE_LIMIT}`));
    expect(res.body.error.message).toMatch(/64 rows × \(topK 300\)/);
    await expectServing();
  });

  it("gRPC: targets over the answer limit are RESOURCE_EXHAUSTED with the code REQUEST_TOO_LARGE", async () => {
    const targets = Array.from({ length: 64 }, () => Array.from({ length: 1000 }, (_, i) => i % V));
    const err = await client.query({ hidden: Array(64).fill(row), topK: 1, targets }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShardmaxError);
    expect((err as ShardmaxError).code).toBe("REQUEST_TOO_LARGE");
    expect((err as ShardmaxError).message).toMatch(/64000 targets/);
    await expectServing();
  });

  it("a query inside the limit is still answered", async () => {
    const res = await gateway.post("/v1/softmax", { hidden: Array(4).fill(row), topK: 50 });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(4);
  });
});

describe("numbers and strings from outside", () => {
  it.each([
    [1e300, /1e\+300/],
    [5e-324, /5e-324/],
    [1e-39, /1e-39/],
  ])("temperature %s is refused as sent", async (temperature, shown) => {
    const res = await gateway.post("/v1/softmax", { hidden: [row], temperature });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^temperature: /);
    expect(res.body.error.message).toMatch(shown);
    await expectServing();
  });

  it("an unknown field name of 100 000 characters is quoted short, control characters escaped", async () => {
    const key = `\u0007${"k".repeat(100_000)}`;
    const res = await gateway.post("/v1/softmax", `{"hidden": [${JSON.stringify(row)}], ${JSON.stringify(key)}: 1}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message.length).toBeLessThan(300);
    expect(res.body.error.message).toContain("\\u0007kkk");
    expect(res.body.error.message).toContain("100001 characters");
  });

  it("a shard refuses a 100 000-character fingerprint at once, and the same channel serves the next call", async () => {
    const Shard = shardmaxProto().Shard;
    const shard = new Shard(shards[0]!.address, grpc.credentials.createInsecure());
    const partial = (fingerprint: string) =>
      new Promise<{ code: number; details: string } | null>((resolve) =>
        shard.partial(
          {
            rows: 1,
            dim: D,
            hidden: Buffer.from(new Float32Array(row).buffer),
            topK: 1,
            temperature: 1,
            targetCounts: [0],
            targetIds: Buffer.alloc(0),
            fingerprint,
          },
          { deadline: new Date(Date.now() + 5000) },
          (err: grpc.ServiceError | null) => resolve(err && { code: err.code, details: err.details }),
        ),
      );
    const refused = await partial("f".repeat(100_000));
    expect(refused?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused!.details.length).toBeLessThan(400);
    expect(refused!.details).toMatch(/fingerprint: has 100000 characters, the limit is 128/);
    expect(await partial("")).toBeNull();
    shard.close();
  });
});

describe("HTTP parser errors and slow clients get the envelope", () => {
  it("a request without Host", async () => {
    const e = envelopeOf(await raw(`GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n`));
    expect(e).toMatchObject({ status: 400, code: "MALFORMED_REQUEST" });
    expect(e.message).toMatch(/Host/);
  });

  it("a malformed request line", async () => {
    expect(envelopeOf(await raw(`GARBAGE\r\n\r\n`))).toMatchObject({ status: 400, code: "MALFORMED_REQUEST" });
  });

  it("headers over the limit are 431", async () => {
    const e = envelopeOf(await raw(`GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`));
    expect(e).toMatchObject({ status: 431, code: "MALFORMED_REQUEST" });
  });

  it("a body that stops arriving is cut by --request-timeout-ms with 408", async () => {
    const head = `POST /v1/softmax HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`;
    const e = envelopeOf(await raw(head, 1));
    expect(e).toMatchObject({ status: 408, code: "DEADLINE_EXCEEDED" });
    await expectServing();
  });

  it("a chunk size of 2^64−1 gets an answer, not a held connection", async () => {
    const head = `POST /v1/softmax HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{`;
    const e = envelopeOf(await raw(head, 1));
    expect([400, 408, 413]).toContain(e.status);
    await expectServing();
  });

  it("413 names the body limit", async () => {
    const res = await gateway.post("/v1/softmax", { hidden: [row], pad: "x".repeat(2 << 20) });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(/--body-limit-bytes 1048576/);
  });
});

describe("--expose-topology off (the default outside `local`)", () => {
  it("/v1/model, not-ready reasons and shard Info show ranges and health, not addresses, socket errors or paths", async () => {
    const closed = "127.0.0.1:1";
    const hidden = await startGateway([shards[0]!.address, closed], { exposeTopology: false });
    try {
      const model = await hidden.get("/v1/model");
      const text = JSON.stringify(model.body);
      expect(text).not.toContain("127.0.0.1");
      expect(text).not.toMatch(/ECONNREFUSED|\.safetensors/);
      expect(model.body.ranges[0].replicas[0]).toMatchObject({ address: "replica 1 of 1", healthy: true });
      const refused = await hidden.post("/v1/softmax", { hidden: [row] });
      expect(refused.status).toBe(503);
      expect(refused.body.error.message).toMatch(/\[150, 300\)|a shard not answering/);
      expect(refused.body.error.message).not.toContain("127.0.0.1");
    } finally {
      await hidden.stop();
    }
    // The gateway under test shows them: it runs with exposeTopology on, as `local` does.
    expect(JSON.stringify((await gateway.get("/v1/model")).body)).toContain(shards[0]!.address);
  });
});

describe("a large answer", () => {
  it("goes out streamed row by row and parses to the same answer as the rows asked alone", async () => {
    const rows = Array.from({ length: 40 }, (_, r) => row.map((x, i) => x + Math.sin(r * 7 + i)));
    const roomy = await startGateway(shards.map((s) => s.address));
    const whole = await roomy.post("/v1/softmax", { hidden: rows, topK: 280 });
    const alone = await roomy.post("/v1/softmax", { hidden: [rows[39]], topK: 280 });
    await roomy.stop();
    expect(whole.status).toBe(200);
    expect(whole.body.results).toHaveLength(40);
    expect(whole.body.results[39].top.map((t: { id: number }) => t.id)).toEqual(alone.body.results[0].top.map((t: { id: number }) => t.id));
    expect(whole.body.results[39].logZ).toBeCloseTo(alone.body.results[0].logZ, 5);
  });
});
