/**
 * Where a process's metrics live: one prom-client Registry per process (tests
 * make their own), with the default process metrics (CPU, RSS, heap,
 * event-loop lag) when asked. Components never see the registry: each gets
 * its own typed instruments (gateway-metrics.ts, shard-metrics.ts), so no
 * component can move another's counters.
 */
import { collectDefaultMetrics, Registry } from "prom-client";

export type { Registry } from "prom-client";

/** Prometheus text format, version 0.0.4: what `/metrics` answers with. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function createRegistry({ processMetrics = true } = {}): Registry {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: "shardmax_" });
  return registry;
}

/** Buckets in seconds from 0.5 ms to 10 s: from one loopback call to a deadline. */
export const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Rows in one batch: powers of two up to the largest batch a shard runs. */
export const ROWS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
