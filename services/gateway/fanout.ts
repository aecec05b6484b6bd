/**
 * One Partial per class range, all in parallel, under the query's deadline.
 * Each range goes to one healthy replica (fewest outstanding calls, ties
 * round-robin). An attempt gets an even share of the time left for the
 * replicas not yet tried, so a replica that fails *or hangs* still leaves
 * time for another; the last replica gets all that is left. The query fails,
 * naming the range, only when no replica of a range answered: a merge over a
 * subset of ranges is never attempted.
 */
import { ShardmaxError } from "../../shared/errors.js";
import { silentLogger, type Logger } from "../../shared/log.js";
import { noGatewayMetrics, type GatewayMetrics } from "../../shared/metrics/gateway-metrics.js";
import { noTracing, traceHeaders, withSpan, type Tracer } from "../../shared/tracing/tracing.js";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { FlatTargets } from "../../shared/math/combine-partials.js";
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
}

/**
 * Errors after which another replica may succeed. CANCELLED is among them
 * because the gateway never cancels its own Partial calls: a cancelled one was
 * cut off by the shard (a forced shutdown). MODEL_MISMATCH: the address now
 * serves another head (a pod replaced mid-roll).
 */
const RETRYABLE = new Set(["UNAVAILABLE", "NOT_READY", "DEADLINE_EXCEEDED", "INTERNAL", "CANCELLED", "MODEL_MISMATCH", "RESOURCE_EXHAUSTED"]);

export class FanOut {
  readonly stats: FanOutStats = { attempts: 0, retries: 0, unanswered: 0, failedAttemptMs: 0, reruns: 0 };
  private readonly picker = new ReplicaPicker();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly exposeTopology: boolean;
  private readonly metrics: Pick<GatewayMetrics, "shardCall" | "shardRetry">;
  private readonly tracer: Tracer;

  constructor(
    private readonly pool: ReplicaPool,
    options: FanOutOptions = {},
  ) {
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.exposeTopology = options.exposeTopology ?? true;
    this.metrics = options.metrics ?? noGatewayMetrics;
    this.tracer = options.tracer ?? noTracing.tracer;
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

  private async askRange(rangeKey: string, replicas: readonly string[], call: PartialCall, deadline: Date): Promise<BatchPartial> {
    const order = this.picker.order(rangeKey, replicas);
    const end = deadline.getTime();
    const failures: string[] = [];
    let busy = 0;
    for (let attempt = 0; attempt < order.length; attempt++) {
      const start = this.now();
      if (start >= end) break;
      const address = order[attempt]!;
      const last = attempt === order.length - 1;
      const attemptEnd = last ? end : start + (end - start) / (order.length - attempt);
      this.stats.attempts++;
      if (attempt > 0) this.stats.retries++;
      if (attempt > 0) this.metrics.shardRetry(rangeKey);
      this.picker.begin(address);
      const started = performance.now();
      const attributes = { "shardmax.range": rangeKey, "shardmax.attempt": attempt + 1, "shardmax.rows": call.rows };
      const span = call.trace ? this.tracer.startSpan("shardmax.shard_call", { kind: SpanKind.CLIENT, attributes }, call.trace) : null;
      try {
        const answer = await this.pool.client(address).partial(call, new Date(attemptEnd), span ? traceHeaders(withSpan(call.trace!, span)) : undefined);
        span?.end();
        call.onRangeTime?.(rangeKey, performance.now() - started);
        return answer;
      } catch (err) {
        const error = ShardmaxError.from(err);
        span?.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
        span?.end();
        if (!RETRYABLE.has(error.code)) throw error;
        this.stats.failedAttemptMs += this.now() - start;
        // A full queue is load, not failure; a replica that overran only its share is ejected until its next good Info.
        if (error.code === "RESOURCE_EXHAUSTED") busy++;
        else if (error.code !== "DEADLINE_EXCEEDED" || !last) this.pool.markFailed(address, error);
        failures.push(this.exposeTopology ? `${address}: ${error.code} ${error.message}` : `replica ${attempt + 1} of ${order.length}: ${error.code}`);
        if (!this.exposeTopology) this.log.warn("replica failed", { range: rangeKey, failed: address, code: error.code, error: error.message });
        else if (!last) this.log.warn("retrying on another replica", { range: rangeKey, failed: address, code: error.code, error: error.message });
      } finally {
        this.metrics.shardCall(rangeKey, (performance.now() - started) / 1000);
        this.picker.end(address);
      }
    }
    this.stats.unanswered++;
    const why = failures.join("; ") || "no attempt was made";
    if (this.now() >= end) throw new ShardmaxError("DEADLINE_EXCEEDED", `range ${rangeKey} did not answer within the deadline (${why})`);
    if (busy > 0 && busy === failures.length) throw new ShardmaxError("RESOURCE_EXHAUSTED", `range ${rangeKey}: every replica is at capacity (${why})`);
    throw new ShardmaxError("UNAVAILABLE", `range ${rangeKey} has no shard that can answer (${why})`);
  }
}
