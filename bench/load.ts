/**
 * The load generator: `concurrency` callers, each sending queries of `rows`
 * hidden rows back to back through the shardmax SDK (gRPC), for a warm-up and
 * then a measured window. Every system under test serves the same Softmax
 * Query, so the same code drives them all.
 */
import { type ClientOptions, type SampleInput, ShardmaxClient } from "../sdk/index.js";

export interface LoadSpec {
  rows: number;
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  topK: number;
  /** Gumbel-max draws asked with every query (each query gets its own seed from the gateway). */
  sample?: SampleInput;
}

export interface LoadResult {
  rowsPerS: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Rows answered over the whole run, warm-up included (to divide wire bytes by). */
  rowsTotal: number;
  errors: number;
  firstError: string | null;
}

/** A pool of hidden rows (N(0,1)-like, deterministic) that callers cycle through. */
export function hiddenPool(dim: number, rows: number, seed = 1): Float32Array {
  const pool = new Float32Array(rows * dim);
  let state = seed >>> 0;
  for (let i = 0; i < pool.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const u = state / 2 ** 32;
    pool[i] = (u - 0.5) * 3.4; // variance ≈ 1
  }
  return pool;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A slow point (seconds per request) gets a longer window: at least this many requests complete inside it. */
const MIN_REQUESTS_PER_CALLER = 2;
const MAX_WINDOW_MS = 60_000;

export async function runLoad(address: string, dim: number, pool: Float32Array, spec: LoadSpec, clientOptions: ClientOptions = {}): Promise<LoadResult> {
  const client = new ShardmaxClient(address, { ...clientOptions, defaultDeadlineMs: 120_000 });
  try {
    return await runCalls((hidden) => client.query({ hidden, dim, topK: spec.topK, ...(spec.sample ? { sample: spec.sample } : {}) }), dim, pool, spec);
  } finally {
    client.close();
  }
}

/**
 * The same closed loop and window through any door: `send` asks for the top-k of
 * `hidden` (`spec.rows` rows) however a caller would (the SDK above, REST in the probes).
 */
export async function runCalls(send: (hidden: Float32Array) => Promise<unknown>, dim: number, pool: Float32Array, spec: LoadSpec): Promise<LoadResult> {
  const poolRows = pool.length / dim;
  const latencies: number[] = [];
  let rowsDone = 0;
  let rowsTotal = 0;
  let lastDone = 0;
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  // The window opens after the warm-up and once every caller has had an answer (first runs of a batch size are slow).
  let measureFrom = Infinity;
  let end = Infinity;
  let answered = 0;
  const warmedUp = () => {
    if (measureFrom === Infinity && answered >= spec.concurrency && performance.now() >= start + spec.warmupMs) {
      measureFrom = performance.now();
      end = measureFrom + spec.measureMs;
    }
  };
  const windowFull = () => {
    const now = performance.now();
    if (now >= start + spec.warmupMs + 2 * MAX_WINDOW_MS) return true; // nothing answers: give up
    return now >= end && (latencies.length >= MIN_REQUESTS_PER_CALLER * spec.concurrency || now >= measureFrom + MAX_WINDOW_MS);
  };
  let next = 0;
  const caller = async () => {
    while (!windowFull()) {
      const first = (next++ * spec.rows) % (poolRows - spec.rows + 1);
      const hidden = pool.subarray(first * dim, (first + spec.rows) * dim);
      const sent = performance.now();
      try {
        await send(hidden);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      const done = performance.now();
      rowsTotal += spec.rows;
      answered++;
      // Closed loop in steady state: count what completes inside the window.
      if (done >= measureFrom && !windowFull()) {
        latencies.push(done - sent);
        rowsDone += spec.rows;
        lastDone = done;
      }
      warmedUp();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, caller));
  latencies.sort((a, b) => a - b);
  return {
    rowsPerS: rowsDone > 0 ? (rowsDone / (Math.max(end, lastDone) - measureFrom)) * 1000 : 0,
    requests: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    rowsTotal,
    errors,
    firstError,
  };
}
