/**
 * The gateway's instruments, by what each part of the gateway reports: the
 * protocol doors their requests, the core the rows it answered, the coalescer
 * its queue waits, the fan-out its shard calls and retries; the gauges read
 * the topology when scraped. Names follow the Prometheus conventions (base
 * units, `_total` counters); labels stay low-cardinality (a protocol, an error
 * code, a class range).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { BatchObserver } from "../batching/batch-work.js";
import { SECONDS_BUCKETS } from "./registry.js";

/** The protocol label: one value per door of the gateway. */
export type Protocol = "rest_v1" | "grpc_softmax" | "rest_v2" | "grpc_inference";

/** What the gauges read at scrape time. */
export interface TopologyGauges {
  ranges: number;
  healthyRanges: number;
  model: { fingerprint: string; vocabSize: number; dim: number } | null;
}

export interface GatewayMetrics {
  /** One answered request (code "OK") or refused one (its shardmax error code), on `protocol`, taking `seconds`. */
  request(protocol: Protocol, code: string, seconds: number): void;
  /** Rows of queries answered. */
  rows(count: number): void;
  /** The coalescer's queue (only waits are exported: a coalesced batch's time is its shard calls). */
  readonly coalesce: BatchObserver;
  /** One Partial attempt on `range` ("[start, end)"), answered or not. */
  shardCall(range: string, seconds: number): void;
  /** An attempt on a second, third … replica of `range` within one query. */
  shardRetry(range: string): void;
  /** Where the range and model gauges read from when scraped. */
  watch(read: () => TopologyGauges): void;
}

export function gatewayMetrics(registry: Registry): GatewayMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: "shardmax_requests_total",
    help: "Inference requests by protocol and result code (OK or the shardmax error code).",
    labelNames: ["protocol", "code"],
    registers,
  });
  const duration = new Histogram({
    name: "shardmax_request_duration_seconds",
    help: "Inference request time, from routing to the answer, by protocol.",
    labelNames: ["protocol"],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const rows = new Counter({ name: "shardmax_rows_total", help: "Hidden rows of answered queries.", registers });
  const coalesceWait = new Histogram({
    name: "shardmax_coalesce_wait_seconds",
    help: "Time a query waited in the gateway's coalescing queue.",
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const shardCall = new Histogram({
    name: "shardmax_shard_call_duration_seconds",
    help: "Partial calls to a shard, by class range, answered or not.",
    labelNames: ["range"],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: "shardmax_shard_retries_total",
    help: "Partial calls retried on another replica, by class range.",
    labelNames: ["range"],
    registers,
  });
  let read: () => TopologyGauges = () => ({ ranges: 0, healthyRanges: 0, model: null });
  new Gauge({
    name: "shardmax_ranges",
    help: "Class ranges of the served head.",
    registers,
    collect() {
      this.set(read().ranges);
    },
  });
  new Gauge({
    name: "shardmax_ranges_healthy",
    help: "Class ranges with at least one healthy replica.",
    registers,
    collect() {
      this.set(read().healthyRanges);
    },
  });
  new Gauge({
    name: "shardmax_model_info",
    help: "The served head (value 1): its fingerprint, vocabulary size and dimension.",
    labelNames: ["fingerprint", "vocab_size", "dim"],
    registers,
    collect() {
      this.reset();
      const model = read().model;
      if (model) this.set({ fingerprint: model.fingerprint, vocab_size: String(model.vocabSize), dim: String(model.dim) }, 1);
    },
  });
  return {
    request(protocol, code, seconds) {
      requests.inc({ protocol, code });
      duration.observe({ protocol }, seconds);
    },
    rows: (count) => rows.inc(count),
    coalesce: { waited: (seconds) => coalesceWait.observe(seconds), ran() {} },
    shardCall: (range, seconds) => shardCall.observe({ range }, seconds),
    shardRetry: (range) => retries.inc({ range }),
    watch(reader) {
      read = reader;
    },
  };
}

/** For tests and embedding: instruments that record nothing. */
export const noGatewayMetrics: GatewayMetrics = {
  request() {},
  rows() {},
  coalesce: { waited() {}, ran() {} },
  shardCall() {},
  shardRetry() {},
  watch() {},
};
