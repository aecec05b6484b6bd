/**
 * A shard's instruments: the gRPC server counts calls by result, the batcher
 * reports batch sizes, queue waits and compute time; the gauges (rows waiting,
 * load progress, the served slice) are read when scraped. Exported on
 * `--metrics-listen` (services/shard/metrics-server.ts).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { BatchObserver } from "../batching/batch-work.js";
import { ROWS_BUCKETS, SECONDS_BUCKETS } from "./registry.js";

export interface ShardGauges {
  queueRows: number;
  /** 0 … 1 while loading; 1 once serving. */
  loadProgress: number;
  model: { fingerprint: string; rangeStart: number; rangeEnd: number } | null;
}

export interface ShardMetrics {
  /** One Partial call, by result code ("OK" or the shardmax error code). */
  request(code: string): void;
  /** The batcher's queue: waits, batch rows and compute seconds. */
  readonly batch: BatchObserver;
  watch(read: () => ShardGauges): void;
}

export function shardMetrics(registry: Registry): ShardMetrics {
  const registers = [registry];
  const requests = new Counter({ name: "shardmax_shard_requests_total", help: "Partial calls by result code.", labelNames: ["code"], registers });
  const batchRows = new Histogram({ name: "shardmax_batch_rows", help: "Rows in one onnxruntime run (a batch of calls).", buckets: ROWS_BUCKETS, registers });
  const queueWait = new Histogram({ name: "shardmax_queue_wait_seconds", help: "Time a call waited for its first run.", buckets: SECONDS_BUCKETS, registers });
  const compute = new Histogram({ name: "shardmax_compute_seconds", help: "Time of one run of a batch.", buckets: SECONDS_BUCKETS, registers });
  let read: () => ShardGauges = () => ({ queueRows: 0, loadProgress: 0, model: null });
  new Gauge({
    name: "shardmax_queue_rows",
    help: "Rows waiting for a run.",
    registers,
    collect() {
      this.set(read().queueRows);
    },
  });
  new Gauge({
    name: "shardmax_load_progress_ratio",
    help: "How much of the slice is loaded, 0 to 1.",
    registers,
    collect() {
      this.set(read().loadProgress);
    },
  });
  new Gauge({
    name: "shardmax_model_info",
    help: "The served slice (value 1): the head's fingerprint and the class range [range_start, range_end).",
    labelNames: ["fingerprint", "range_start", "range_end"],
    registers,
    collect() {
      this.reset();
      const model = read().model;
      if (model) this.set({ fingerprint: model.fingerprint, range_start: String(model.rangeStart), range_end: String(model.rangeEnd) }, 1);
    },
  });
  return {
    request: (code) => requests.inc({ code }),
    batch: {
      waited: (seconds) => queueWait.observe(seconds),
      ran(rows, seconds) {
        batchRows.observe(rows);
        compute.observe(seconds);
      },
    },
    watch(reader) {
      read = reader;
    },
  };
}

export const noShardMetrics: ShardMetrics = { request() {}, batch: { waited() {}, ran() {} }, watch() {} };
