/**
 * One Partial per class range, all in parallel, under the query's deadline.
 * Each range goes to one healthy replica (fewest outstanding calls, ties
 * round-robin). An attempt gets an even share of the time left for the
 * replicas not yet tried, so a replica that fails *or hangs* still leaves
 * time for another; the last replica gets all that is left. The query fails,
 * naming the range, only when no replica of a range answered: a merge over a
 * subset of ranges is never attempted.
 *
 * Hedging (--hedge-after pXX, off by default): when a range's attempt has not
 * answered after that quantile of the range's recent latency, a second attempt
 * goes to the next replica; the first answer wins and the other is cancelled.
 * It bounds the tail a slow (GC, noisy neighbour, SIGSTOPped) replica adds at
 * the price of at most one extra Partial per range for the slowest queries.
 */

import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type Clock, realClock, type TimerHandle } from "../../shared/batching/clock.js";
import { ShardmaxError } from "../../shared/errors.js";
import { type Logger, silentLogger } from "../../shared/log.js";
import type { FlatTargets } from "../../shared/math/combine-partials.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { type GatewayMetrics, noGatewayMetrics } from "../../shared/metrics/gateway-metrics.js";
import { noTracing, type Tracer, traceHeaders, withSpan } from "../../shared/tracing/tracing.js";
import { LatencyQuantile } from "./latency-quantile.js";
import { ReplicaPicker } from "./replica-picker.js";
import type { PartialCall, ShardClient } from "./shard-client.js";
import type { Topology } from "./topology.js";

type ReadyTopology = Extract<Topology, { ready: true }>;

export interface ReplicaPool {
  client(address: string): ShardClient;
  markFailed(address: string, error: ShardmaxError): void;
}

export interface FanOutOptions {
  log?: Logger;
  /** The clock, injectable so the deadline shares can be tested. */
  now?: () => number;
  /** Whether client-facing errors may name replica addresses and their errors (--expose-topology); the log always does. */
  exposeTopology?: boolean;
  /** Makes a span per shard call of a query that carries a trace context. */
  tracer?: Tracer;
  /** Shard call times and retries, by range. */
  metrics?: Pick<GatewayMetrics, "shardCall" | "shardRetry">;
  /** --hedge-after: the latency quantile (e.g. 0.95) after which a range's Partial also goes to a second replica; null or absent: off. */
  hedgeAfter?: number | null;
  /** Schedules the hedges, injectable so tests state "after 5 ms" instead of sleeping. */
  clock?: Clock;
}

/** Counters since start, for operators (logs) and the failover drill. */
export interface FanOutStats {
  /** Partial calls sent, first attempts and retries. */
  attempts: number;
  /** Attempts on a second, third … replica of a range within one query. */
  retries: number;
  /** Ranges that no replica answered within a query (each fails its query). */
  unanswered: number;
  /** Time spent in attempts that failed: what failing over added to the queries that needed it. */
  failedAttemptMs: number;
  /** Queries run a second time, on a rebuilt topology, after a range ran out of replicas (query-rerun.ts). */
  reruns: number;
  /** Second attempts started because the first had not answered by the range's latency quantile (--hedge-after). */
  hedges: number;
  /** Hedges that answered first (the first attempt was then cancelled). */
  hedgeWins: number;
}

/**
 * Errors after which another replica may succeed. CANCELLED is among them
 * because the gateway cancels only hedges that lost, whose errors are ignored:
 * a cancelled one was cut off by the shard (a forced shutdown). MODEL_MISMATCH: the address now
 * serves another head (a pod replaced mid-roll).
 */
const RETRYABLE = new Set(["UNAVAILABLE", "NOT_READY", "DEADLINE_EXCEEDED", "INTERNAL", "CANCELLED", "MODEL_MISMATCH", "RESOURCE_EXHAUSTED"]);

export class FanOut {
  readonly stats: FanOutStats = { attempts: 0, retries: 0, unanswered: 0, failedAttemptMs: 0, reruns: 0, hedges: 0, hedgeWins: 0 };
  private readonly picker = new ReplicaPicker();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly exposeTopology: boolean;
  private readonly metrics: Pick<GatewayMetrics, "shardCall" | "shardRetry">;
  private readonly tracer: Tracer;
  private readonly latency: LatencyQuantile | null;
  private readonly clock: Clock;

  constructor(
    private readonly pool: ReplicaPool,
    options: FanOutOptions = {},
  ) {
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.exposeTopology = options.exposeTopology ?? true;
    this.metrics = options.metrics ?? noGatewayMetrics;
    this.tracer = options.tracer ?? noTracing.tracer;
    this.latency = options.hedgeAfter ? new LatencyQuantile(options.hedgeAfter) : null;
    this.clock = options.clock ?? realClock;
  }

  async partials(
    topology: ReadyTopology,
    call: Omit<PartialCall, "targetCounts" | "targetIds">,
    routed: readonly FlatTargets[],
    deadline: Date,
  ): Promise<BatchPartial[]> {
    // Said here, once: otherwise every range would report "no attempt was made" and the first (healthy) one would be blamed.
    if (this.now() >= deadline.getTime()) throw new ShardmaxError("DEADLINE_EXCEEDED", "the query's deadline passed before it reached the shards");
    return Promise.all(
      topology.map.ranges.map((range, r) =>
        this.askRange(`${range}`, topology.healthy[r]!, { ...call, targetCounts: routed[r]!.counts, targetIds: routed[r]!.ids }, deadline),
      ),
    );
  }

  /**
   * Attempts on the range's replicas in `order` until one answers. Normally one
   * at a time (failover); with hedging, a second attempt starts when the first
   * has not answered after the range's latency quantile, both run, the first
   * answer wins and the other is cancelled. Either answer is the same exact
   * partial: a hedge changes who answers, never what.
   */
  private askRange(rangeKey: string, replicas: readonly string[], call: PartialCall, deadline: Date): Promise<BatchPartial> {
    const order = this.picker.order(rangeKey, replicas);
    const end = deadline.getTime();
    const failures: string[] = [];
    const running = new Set<AbortController>();
    let busy = 0;
    let next = 0;
    let done = false;
    let hedgeTimer: TimerHandle | null = null;
    return new Promise<BatchPartial>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        done = true;
        if (hedgeTimer !== null) this.clock.clearTimeout(hedgeTimer);
        for (const loser of running) loser.abort();
        running.clear();
        outcome();
      };
      const giveUp = () => settle(() => reject(this.unanswered(rangeKey, end, failures, busy)));
      /** Starts the next replica's attempt; false when none is left or the time is up. */
      const launch = (hedge: boolean): boolean => {
        const start = this.now();
        if (start >= end || next >= order.length) return false;
        const attempt = next++;
        const address = order[attempt]!;
        const last = attempt === order.length - 1;
        const attemptEnd = last ? end : start + (end - start) / (order.length - attempt);
        this.stats.attempts++;
        if (hedge) this.stats.hedges++;
        else if (attempt > 0) {
          this.stats.retries++;
          this.metrics.shardRetry(rangeKey);
        }
        this.picker.begin(address);
        const abort = new AbortController();
        running.add(abort);
        const started = performance.now();
        const attributes = { "shardmax.range": rangeKey, "shardmax.attempt": attempt + 1, "shardmax.hedge": hedge, "shardmax.rows": call.rows };
        const span = call.trace ? this.tracer.startSpan("shardmax.shard_call", { kind: SpanKind.CLIENT, attributes }, call.trace) : null;
        const metadata = span ? traceHeaders(withSpan(call.trace!, span)) : undefined;
        const ended = (code: string | null) => {
          if (code !== null) span?.setStatus({ code: SpanStatusCode.ERROR, message: code });
          span?.end();
          this.metrics.shardCall(rangeKey, (performance.now() - started) / 1000);
        };
        this.send(address, call, new Date(attemptEnd), abort.signal, metadata).then(
          (partial) => {
            this.picker.end(address);
            running.delete(abort);
            ended(null);
            if (done) return;
            call.onRangeTime?.(rangeKey, performance.now() - started);
            this.latency?.record(rangeKey, this.now() - start);
            if (hedge) this.stats.hedgeWins++;
            settle(() => resolve(partial));
          },
          (err: unknown) => {
            this.picker.end(address);
            running.delete(abort);
            const error = ShardmaxError.from(err);
            ended(error.code);
            if (done) return;
            if (!RETRYABLE.has(error.code)) return settle(() => reject(error));
            this.stats.failedAttemptMs += this.now() - start;
            // A full queue is load, not failure; a replica that overran only its share is ejected until its next good Info.
            if (error.code === "RESOURCE_EXHAUSTED") busy++;
            else if (error.code !== "DEADLINE_EXCEEDED" || !last) this.pool.markFailed(address, error);
            failures.push(this.exposeTopology ? `${address}: ${error.code} ${error.message}` : `replica ${attempt + 1} of ${order.length}: ${error.code}`);
            const more = next < order.length;
            if (!this.exposeTopology) this.log.warn("replica failed", { range: rangeKey, failed: address, code: error.code, error: error.message });
            else if (more) this.log.warn("retrying on another replica", { range: rangeKey, failed: address, code: error.code, error: error.message });
            // A hedge still running may yet answer; otherwise fail over to the next replica.
            if (running.size === 0 && !launch(false)) giveUp();
          },
        );
        return true;
      };
      if (!launch(false)) return giveUp();
      const after = order.length > 1 ? this.latency?.ms(rangeKey) : undefined;
      if (after != null) {
        hedgeTimer = this.clock.setTimeout(() => {
          hedgeTimer = null;
          if (!done && running.size > 0) launch(true);
        }, after);
      }
    });
  }

  /** One attempt; a synchronous throw (no client for the address) becomes its rejection. */
  private send(address: string, call: PartialCall, attemptEnd: Date, signal: AbortSignal, metadata?: Record<string, string>): Promise<BatchPartial> {
    try {
      return this.pool.client(address).partial(call, attemptEnd, signal, metadata);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private unanswered(rangeKey: string, end: number, failures: string[], busy: number): ShardmaxError {
    this.stats.unanswered++;
    const why = failures.join("; ") || "no attempt was made";
    if (this.now() >= end) return new ShardmaxError("DEADLINE_EXCEEDED", `range ${rangeKey} did not answer within the deadline (${why})`);
    if (busy > 0 && busy === failures.length) return new ShardmaxError("RESOURCE_EXHAUSTED", `range ${rangeKey}: every replica is at capacity (${why})`);
    return new ShardmaxError("UNAVAILABLE", `range ${rangeKey} has no shard that can answer (${why})`);
  }
}
