/**
 * Every bad input gets a 4xx naming the field, over REST and gRPC, and the next
 * good query is still served: the gateway and its shards keep serving.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient, ShardmaxError } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

const V = 300;
const D = 8;
const row = Array.from(randomHidden(3, 1, D)[0]!);

let shards: ShardProcess[] = [];
let gateway: TestGateway;
let client: ShardmaxClient;

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), randomHead(5, V, D));
  shards = await Promise.all([0, 1].map((i) => startShard(["--weights", file, "--shard", `${i}/2`, "--listen", "127.0.0.1:0", "--threads", "1"])));
  gateway = await startGateway(
    shards.map((s) => s.address),
    { bodyLimitBytes: 64 * 1024, limits: { maxRows: 16, maxTopK: 1000, maxTargetsPerRow: 100, maxResponseBytes: 16 << 20, maxDraws: 64 } },
  );
  client = new ShardmaxClient(gateway.grpcAddress);
});

afterAll(async () => {
  client.close();
  await gateway.stop();
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
});

async function expectServed(): Promise<void> {
  const { status, body } = await gateway.post("/v1/softmax", { hidden: [row], topK: 3 });
  expect(status).toBe(200);
  expect(body.results[0].top).toHaveLength(3);
}

const cases: [string, unknown, number, string, RegExp][] = [
  ["wrong dimension", { hidden: [row.slice(1)] }, 400, "INVALID_ARGUMENT", /hidden.*d=8/],
  ["ragged rows", { hidden: [row, row.slice(2)] }, 400, "INVALID_ARGUMENT", /hidden\[1\]/],
  ["a string in hidden", { hidden: [[...row.slice(1), "x"]] }, 400, "INVALID_ARGUMENT", /hidden\[0\]\[7\]/],
  ["null in hidden", { hidden: [[null, ...row.slice(1)]] }, 400, "INVALID_ARGUMENT", /hidden\[0\]\[0\]/],
  ["hidden not rows", { hidden: [1, 2, 3] }, 400, "INVALID_ARGUMENT", /hidden\[0\]/],
  ["empty batch", { hidden: [] }, 400, "INVALID_ARGUMENT", /hidden.*empty/],
  ["missing hidden", { topK: 3 }, 400, "INVALID_ARGUMENT", /hidden.*required/],
  ["topK below 0", { hidden: [row], topK: -1 }, 400, "INVALID_ARGUMENT", /topK/],
  ["topK above V", { hidden: [row], topK: V + 1 }, 400, "INVALID_ARGUMENT", /topK.*300/],
  ["topK not an integer", { hidden: [row], topK: 2.5 }, 400, "INVALID_ARGUMENT", /topK/],
  ["target id ≥ V", { hidden: [row], targets: [[V]] }, 400, "INVALID_ARGUMENT", /targets\[0\]\[0\].*300/],
  ["target id < 0", { hidden: [row], targets: [[-1]] }, 400, "INVALID_ARGUMENT", /targets\[0\]\[0\]/],
  ["targets not one list per row", { hidden: [row, row], targets: [[1]] }, 400, "INVALID_ARGUMENT", /targets.*1 lists for 2 rows/],
  ["temperature 0", { hidden: [row], temperature: 0 }, 400, "INVALID_ARGUMENT", /temperature/],
  ["temperature < 0", { hidden: [row], temperature: -1 }, 400, "INVALID_ARGUMENT", /temperature/],
  ["temperature not a number", { hidden: [row], temperature: "hot" }, 400, "INVALID_ARGUMENT", /temperature/],
  ["an unknown field", { hidden: [row], top_k: 3 }, 400, "INVALID_ARGUMENT", /top_k/],
  ["too many rows", { hidden: Array(17).fill(row) }, 429, "RESOURCE_EXHAUSTED", /hidden.*16/],
  ["a number too large for float", { hidden: [[1e39, ...row.slice(1)]] }, 400, "INVALID_ARGUMENT", /hidden\[0\]\[0\]/],
];

describe("REST", () => {
  it.each(cases)("%s", async (_name, body, status, code, message) => {
    const res = await gateway.post("/v1/softmax", body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    await expectServed();
  });

  it("malformed JSON", async () => {
    const res = await gateway.post("/v1/softmax", '{"hidden": [[1, 2');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("MALFORMED_REQUEST");
    await expectServed();
  });

  it("a body over the limit gets 413", async () => {
    const big = { hidden: Array(16).fill(Array(D).fill(0.123456789012345)), pad: "x".repeat(70_000) };
    const res = await gateway.post("/v1/softmax", big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("BODY_TOO_LARGE");
    await expectServed();
  });

  it("a wrong content type gets 415", async () => {
    const res = await fetch(`${gateway.url}/v1/softmax`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" });
    expect(res.status).toBe(415);
    await expectServed();
  });

  it("an unknown route gets 404 in the error format", async () => {
    // Outside /v1 and /v2 (whose plugin answers its own 404s in V2's format): shardmax's envelope.
    const res = await gateway.get("/v3/nothing");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NOT_FOUND");
  });
});

describe("gRPC via the SDK", () => {
  const rejects = async (promise: Promise<unknown>, code: string, message: RegExp) => {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShardmaxError);
    expect((err as ShardmaxError).code).toBe(code);
    expect((err as ShardmaxError).message).toMatch(message);
    const ok = await client.query({ hidden: [row], topK: 2 });
    expect(ok.results[0]!.top).toHaveLength(2);
  };

  it("wrong dimension", () => rejects(client.query({ hidden: [row.slice(1)] }), "INVALID_ARGUMENT", /d=8/));
  it("non-finite value", () => rejects(client.query({ hidden: [[NaN, ...row.slice(1)]] }), "INVALID_ARGUMENT", /hidden\[0\]\[0\]/));
  it("empty batch", () => rejects(client.query({ hidden: new Float32Array(0), dim: D }), "INVALID_ARGUMENT", /empty/));
  it("topK too big", () => rejects(client.query({ hidden: [row], topK: 5000 }), "INVALID_ARGUMENT", /topK/));
  it("target out of range", () => rejects(client.query({ hidden: [row], targets: [[V + 5]] }), "INVALID_ARGUMENT", /targets\[0\]\[0\]/));
  it("temperature", () => rejects(client.query({ hidden: [row], temperature: -2 }), "INVALID_ARGUMENT", /temperature/));
  it("ragged rows are caught by the SDK itself", async () => {
    await expect(client.query({ hidden: [row, row.slice(1)] })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
