/**
 * Does onnxruntime block the shard's event loop? A real shard (probes/
 * event-loop.ts) is flooded with batch-1 Partials at full concurrency while
 * its own event-loop delay is sampled and a client times gRPC health checks,
 * once with inference on the worker thread and once on the main thread.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { ShardClient } from "../services/gateway/shard-client.js";
import { defaultOptions } from "../shared/math/row-options.js";
import { packageRoot } from "../shared/package-root.js";
import { BenchChild } from "./child-process.js";
import { hiddenPool, percentile } from "./load.js";
import type { HeadPlan } from "./plan.js";

export interface EventLoopResult {
  inference: "worker" | "main";
  loop: { p50Ms: number; p99Ms: number; maxMs: number; meanMs: number };
  health: { checks: number; p50Ms: number; p99Ms: number; maxMs: number };
  partialsPerS: number;
  rowsPerRun: number;
}

type HealthClient = grpc.Client & {
  check(request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: { status: string }) => void): void;
};

export async function measureEventLoop(
  head: HeadPlan,
  inference: "worker" | "main",
  concurrency: number,
  measureMs: number,
  threads: number,
): Promise<EventLoopResult> {
  const probe = new BenchChild(`event-loop probe (${inference})`, join(packageRoot(), "dist", "bench", "probes", "event-loop.js"), [
    "--weights",
    head.weights,
    "--threads",
    `${threads}`,
    "--inference",
    inference,
  ]);
  try {
    const { port } = await probe.next("listening");
    await probe.next("ready");
    const address = `127.0.0.1:${port}`;
    const shard = new ShardClient(address, 256 << 20);
    const { fingerprint } = await shard.info(10_000);
    const Health = grpc.makeGenericClientConstructor(healthService, "Health");
    const health = new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
    const pool = hiddenPool(head.dim, 64, 7);
    const end = performance.now() + measureMs;
    let partials = 0;
    const flood = async (caller: number) => {
      for (let i = caller; performance.now() < end; i += concurrency) {
        const row = i % 64;
        const call = {
          rows: 1,
          dim: head.dim,
          hidden: pool.subarray(row * head.dim, (row + 1) * head.dim),
          topK: 10,
          options: defaultOptions(),
          targetCounts: new Uint32Array(1),
          targetIds: new Uint32Array(0),
          fingerprint,
        };
        await shard.partial(call, new Date(Date.now() + 60_000));
        partials++;
      }
    };
    const healthMs: number[] = [];
    const checks = async () => {
      while (performance.now() < end) {
        const sent = performance.now();
        await new Promise<void>((resolve, reject) =>
          health.check({ service: "shardmax.v1.Shard" }, { deadline: new Date(Date.now() + 60_000) }, (err) => (err ? reject(err) : resolve())),
        );
        healthMs.push(performance.now() - sent);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    probe.send("reset");
    const started = performance.now();
    await Promise.all([...Array.from({ length: concurrency }, (_, c) => flood(c)), checks()]);
    const elapsedS = (performance.now() - started) / 1000;
    probe.send("report");
    const loop = await probe.next("loop");
    health.close();
    shard.close();
    healthMs.sort((a, b) => a - b);
    return {
      inference,
      loop: { p50Ms: loop.p50Ms as number, p99Ms: loop.p99Ms as number, maxMs: loop.maxMs as number, meanMs: loop.meanMs as number },
      health: { checks: healthMs.length, p50Ms: percentile(healthMs, 50), p99Ms: percentile(healthMs, 99), maxMs: healthMs[healthMs.length - 1] ?? NaN },
      partialsPerS: partials / elapsedS,
      rowsPerRun: (loop.rows as number) / (loop.runs as number),
    };
  } finally {
    await probe.stop();
  }
}
