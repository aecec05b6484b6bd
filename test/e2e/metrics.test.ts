/**
 * Metrics of a live cluster: three real shard processes (uneven ranges of
 * V=3001, each with --metrics-listen) and a real gateway. After 39 rows in 6
 * queries over REST and gRPC (concurrent, so the gateway coalesces) and one
 * refused request, every counter has moved by exactly what was sent: the
 * gateway's rows and requests by protocol and code, each shard's batch rows
 * adding up to every row once, and the gateway's count of calls per range
 * equal to what that range's shard counted. Both expositions parse with a
 * strict Prometheus text parser.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { type Exposition, scrape, total } from "../helpers/prometheus-text.js";
import { randomHead, randomHidden } from "../helpers/reference-softmax.js";

const V = 3001;
const D = 16;
const head = randomHead(131, V, D, 0.5, 1);
let shards: ShardProcess[] = [];
let gateway: TestGateway;
let client: ShardmaxClient;

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), head);
  shards = await Promise.all(
    [0, 1, 2].map((i) => startShard(["--weights", file, "--shard", `${i}/3`, "--listen", "127.0.0.1:0", "--threads", "1", "--metrics-listen", "127.0.0.1:0"])),
  );
  gateway = await startGateway(shards.map((s) => s.address));
  client = new ShardmaxClient(gateway.grpcAddress);
}, 60_000);

afterAll(async () => {
  client?.close();
  await gateway?.stop();
  await Promise.all(shards.map((s) => s.kill("SIGKILL")));
});

const rowsOf = (n: number, seed: number) => randomHidden(seed, n, D).map((row) => Array.from(row));
const shardScrape = (s: ShardProcess) => scrape(`http://127.0.0.1:${s.metricsPort}/metrics`);
const delta = (after: Exposition, before: Exposition, name: string, where: Record<string, string> = {}) =>
  total(after, name, where) - total(before, name, where);

describe("metrics of a live cluster", () => {
  it("move by exactly what was sent, on the gateway and on every shard", async () => {
    expect(shards.every((s) => s.metricsPort !== null)).toBe(true);
    const model = ((await gateway.get("/v1/model")).body as { model: { fingerprint: string } }).model;
    const gatewayBefore = await scrape(`${gateway.url}/metrics`);
    const shardsBefore = await Promise.all(shards.map(shardScrape));

    const restRows = [1, 3, 7, 11, 15];
    const answers = await Promise.all([
      ...restRows.map((n, i) => gateway.post("/v1/softmax", { hidden: rowsOf(n, i), topK: 3 })),
      client.query({ hidden: rowsOf(2, 99), topK: 3 }).then(() => ({ status: 200 })),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const refused = await gateway.post("/v1/softmax", { hidden: [[1, 2]] });
    expect(refused.body.error.code).toBe("INVALID_ARGUMENT");

    const g = await scrape(`${gateway.url}/metrics`);
    expect(delta(g, gatewayBefore, "shardmax_rows_total")).toBe(39);
    expect(delta(g, gatewayBefore, "shardmax_requests_total", { protocol: "rest_v1", code: "OK" })).toBe(5);
    expect(delta(g, gatewayBefore, "shardmax_requests_total", { protocol: "rest_v1", code: "INVALID_ARGUMENT" })).toBe(1);
    expect(delta(g, gatewayBefore, "shardmax_requests_total", { protocol: "grpc_softmax", code: "OK" })).toBe(1);
    expect(delta(g, gatewayBefore, "shardmax_request_duration_seconds_count", { protocol: "rest_v1" })).toBe(6);
    expect(delta(g, gatewayBefore, "shardmax_request_duration_seconds_count", { protocol: "grpc_softmax" })).toBe(1);
    // The refused request never reached the coalescer; each answered query waited in it once.
    expect(delta(g, gatewayBefore, "shardmax_coalesce_wait_seconds_count")).toBe(6);
    expect(delta(g, gatewayBefore, "shardmax_shard_retries_total")).toBe(0);
    expect(total(g, "shardmax_ranges")).toBe(3);
    expect(total(g, "shardmax_ranges_healthy")).toBe(3);
    expect(g.samples.filter((s) => s.name === "shardmax_model_info")).toEqual([
      { name: "shardmax_model_info", labels: { fingerprint: model.fingerprint, vocab_size: String(V), dim: String(D) }, value: 1 },
    ]);
    expect(g.types.get("shardmax_process_resident_memory_bytes")).toBe("gauge");
    expect(g.types.get("shardmax_nodejs_eventloop_lag_seconds")).toBe("gauge");

    const after = await Promise.all(shards.map(shardScrape));
    after.forEach((s, i) => {
      const before = shardsBefore[i]!;
      const calls = delta(s, before, "shardmax_shard_requests_total", { code: "OK" });
      const runs = delta(s, before, "shardmax_batch_rows_count");
      // Every row ran exactly once on every range, however the calls were batched.
      expect(delta(s, before, "shardmax_batch_rows_sum")).toBe(39);
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(6);
      expect(runs).toBeGreaterThanOrEqual(1);
      expect(runs).toBeLessThanOrEqual(calls);
      expect(delta(s, before, "shardmax_compute_seconds_count")).toBe(runs);
      expect(delta(s, before, "shardmax_queue_wait_seconds_count")).toBe(calls);
      expect(delta(s, before, "shardmax_shard_requests_total")).toBe(calls);
      // What the gateway counted for this range is what the range's shard counted.
      const rangeLabel = `[${shards[i]!.rangeStart}, ${shards[i]!.rangeEnd})`;
      expect(delta(g, gatewayBefore, "shardmax_shard_call_duration_seconds_count", { range: rangeLabel })).toBe(calls);
      expect(total(s, "shardmax_queue_rows")).toBe(0);
      expect(total(s, "shardmax_load_progress_ratio")).toBe(1);
      expect(s.samples.filter((x) => x.name === "shardmax_model_info")).toEqual([
        {
          name: "shardmax_model_info",
          labels: { fingerprint: model.fingerprint, range_start: String(shards[i]!.rangeStart), range_end: String(shards[i]!.rangeEnd) },
          value: 1,
        },
      ]);
      expect(s.types.get("shardmax_process_cpu_seconds_total")).toBe("counter");
    });
  }, 60_000);

  it("a shard's metrics listener answers only GET /metrics", async () => {
    const res = await fetch(`http://127.0.0.1:${shards[0]!.metricsPort}/other`);
    expect(res.status).toBe(404);
  });
});
