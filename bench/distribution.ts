/**
 * The full-distribution point: how fast shardmax (C, N shards behind the
 * gateway) delivers every class's log-prob, in MB/s of float32 log-probs
 * received by a gRPC client (the SDK's `distribution`, chunks consumed as
 * they arrive), against the machine's memory bandwidth. One caller sends
 * requests of `rows` rows back to back: a warm-up, then a measured window.
 *
 * What bounds it: each request costs two passes over the weights at the
 * shards (the logZ Partial round, then the logits), and then 4·V bytes per
 * row travel shard → gateway → client through grpc-js, which copies them.
 */
import { ShardmaxClient } from "../sdk/index.js";
import type { HeadPlan } from "./plan.js";
import type { DistributionResult } from "./results.js";
import type { RunningSystem } from "./systems.js";

/** Rows per request: about 8M log-probs (32 MiB), under the gateway's default --max-distribution-values of 2^24. */
export function distributionRows(vocabSize: number): number {
  return Math.max(1, Math.min(64, Math.floor((8 * 1024 * 1024) / vocabSize)));
}

export async function measureDistribution(
  system: RunningSystem,
  head: HeadPlan,
  label: string,
  pool: Float32Array,
  window: { warmupMs: number; measureMs: number },
): Promise<Omit<DistributionResult, "bandwidthBytesPerS" | "foreignCpu">> {
  const rows = distributionRows(head.vocabSize);
  const client = new ShardmaxClient(system.address, { defaultDeadlineMs: 120_000 });
  let offset = 0;
  const request = async (): Promise<number> => {
    const hidden = pool.subarray(offset * head.dim, (offset + rows) * head.dim);
    offset = (offset + rows) % Math.max(1, Math.floor(pool.length / head.dim) - rows);
    let bytes = 0;
    for await (const chunk of client.distribution({ hidden, dim: head.dim })) bytes += chunk.logprobs.byteLength;
    if (bytes !== rows * head.vocabSize * 4) throw new Error(`distribution of ${rows} rows gave ${bytes} bytes, expected ${rows * head.vocabSize * 4}`);
    return bytes;
  };
  try {
    const warmupEnd = Date.now() + window.warmupMs;
    while (Date.now() < warmupEnd) await request();
    const latencies: number[] = [];
    let bytes = 0;
    const started = process.hrtime.bigint();
    const end = Date.now() + window.measureMs;
    do {
      const t0 = process.hrtime.bigint();
      bytes += await request();
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } while (Date.now() < end);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const p50Ms = latencies[Math.floor(latencies.length / 2)]!;
    return { head: head.name, label, rows, vocabSize: head.vocabSize, requests: latencies.length, bytes, seconds, bytesPerS: bytes / seconds, p50Ms };
  } finally {
    client.close();
  }
}
