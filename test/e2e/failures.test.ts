/**
 * Never silently partial, one model: a killed shard makes its range 503 (named)
 * and /readyz not ready until it restarts; shards of different heads or ranges
 * that do not tile [0, V) are refused with 409.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxError } from "../../shared/errors.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard, waitFor } from "../helpers/processes.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

const V = 500;
const D = 8;
const row = Array.from(randomHidden(9, 1, D)[0]!);
const started: ShardProcess[] = [];
const gateways: TestGateway[] = [];
let fileA: string;
let fileB: string;

async function shard(args: string[]): Promise<ShardProcess> {
  const s = await startShard([...args, "--threads", "1"]);
  started.push(s);
  return s;
}

async function gateway(addresses: string[]): Promise<TestGateway> {
  const g = await startGateway(addresses);
  gateways.push(g);
  return g;
}

beforeAll(async () => {
  const dir = await tempDir();
  fileA = await writeHead(join(dir, "a.safetensors"), randomHead(1, V, D));
  const headB = randomHead(1, V, D);
  headB.weight[3] = headB.weight[3]! + 0.5; // one value differs: another head of the same shape
  fileB = await writeHead(join(dir, "b.safetensors"), headB);
});

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await Promise.all(started.map((s) => s.kill("SIGTERM")));
});

describe("a shard that dies", () => {
  it("gives 503 naming its range, then is served again after a restart", async () => {
    const a0 = await shard(["--weights", fileA, "--shard", "0/2", "--listen", "127.0.0.1:0"]);
    const a1 = await shard(["--weights", fileA, "--shard", "1/2", "--listen", "127.0.0.1:0"]);
    const g = await gateway([a0.address, a1.address]);
    const before = await g.post("/v1/softmax", { hidden: [row], topK: 5 });
    expect(before.status).toBe(200);
    expect((await g.get("/readyz")).status).toBe(200);

    await a1.kill("SIGKILL");
    const during = await g.post("/v1/softmax", { hidden: [row], topK: 5 });
    expect(during.status).toBe(503);
    expect(during.body.error.code).toBe("UNAVAILABLE");
    expect(during.body.error.message).toContain("[250, 500)");
    await waitFor(async () => (await g.get("/readyz")).status === 503, 5000, "readyz to fail");
    const ready = await g.get("/readyz");
    expect(ready.body.error.message).toContain("[250, 500)");

    const restarted = await shard(["--weights", fileA, "--shard", "1/2", "--listen", a1.address]);
    expect(restarted.port).toBe(a1.port);
    await waitFor(async () => (await g.get("/readyz")).status === 200, 10_000, "readyz after restart");
    const after = await g.post("/v1/softmax", { hidden: [row], topK: 5 });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
  });
});

describe("one model", () => {
  it("refuses shards whose heads differ (409, not ready) and says why", async () => {
    const a0 = await shard(["--weights", fileA, "--shard", "0/2", "--listen", "127.0.0.1:0"]);
    const b1 = await shard(["--weights", fileB, "--shard", "1/2", "--listen", "127.0.0.1:0"]);
    const g = await gateway([a0.address, b1.address]);
    const res = await g.post("/v1/softmax", { hidden: [row] });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("MODEL_MISMATCH");
    expect(res.body.error.message).toMatch(/disagree.*sha256:.*sha256:/);
    const ready = await g.get("/readyz");
    expect(ready.status).not.toBe(200);
    expect(ready.body.error.code).toBe("MODEL_MISMATCH");
    expect((await g.get("/v1/model")).body.reason).toMatch(/disagree/);
  });

  it("refuses ranges with a gap (409) naming it", async () => {
    const a0 = await shard(["--weights", fileA, "--range", "0:200", "--listen", "127.0.0.1:0"]);
    const a2 = await shard(["--weights", fileA, "--range", "300:500", "--listen", "127.0.0.1:0"]);
    const g = await gateway([a0.address, a2.address]);
    const res = await g.post("/v1/softmax", { hidden: [row] });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain("[200, 300)");
    expect((await g.get("/readyz")).status).not.toBe(200);
  });

  it("refuses overlapping ranges (409)", async () => {
    const a0 = await shard(["--weights", fileA, "--range", "0:300", "--listen", "127.0.0.1:0"]);
    const a1 = await shard(["--weights", fileA, "--range", "250:500", "--listen", "127.0.0.1:0"]);
    const g = await gateway([a0.address, a1.address]);
    const res = await g.post("/v1/softmax", { hidden: [row] });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/overlap/);
  });

  it("a shard refuses a Partial for another head (fingerprint travels with every call)", async () => {
    const { ShardClient } = await import("../../services/gateway/shard-client.js");
    const a0 = await shard(["--weights", fileA, "--shard", "0/1", "--listen", "127.0.0.1:0"]);
    const call = {
      rows: 1,
      dim: D,
      hidden: Float32Array.from(row),
      topK: 1,
      options: defaultOptions(),
      targetCounts: new Uint32Array(1),
      targetIds: new Uint32Array(0),
      fingerprint: "sha256:not-this-head",
    };
    for (const transport of ["stream", "unary"] as const) {
      const client = new ShardClient(a0.address, 1 << 20, undefined, transport);
      const err = await client.partial(call, new Date(Date.now() + 5000)).catch((e: unknown) => e);
      expect(ShardmaxError.from(err).code).toBe("MODEL_MISMATCH");
      client.close();
    }
  });
});
