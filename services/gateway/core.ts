/**
 * The gateway's core: one service object that every protocol adapter (REST
 * /v1, REST /v2, gRPC Softmax, gRPC inference) calls. It owns the rules that
 * must not differ between doors: when the gateway is ready, what the model
 * view shows, and how a query is admitted, given its deadline and run.
 * Adapters only translate their wire format to a `Query` and an `Answer` back.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type ErrorCode, ShardmaxError } from "../../shared/errors.js";
import { type GatewayMetrics, noGatewayMetrics, type Protocol } from "../../shared/metrics/gateway-metrics.js";
import type { ModelInfo, ModelRef } from "../../shared/results.js";
import { withSpan } from "../../shared/tracing/tracing.js";
import type { GatewayContext } from "./context.js";
import type { DistributionService } from "./distribution.js";
import { modelView } from "./model-view.js";
import { type Answer, type Query, type QueryLimits, queryAnswerBytes } from "./query.js";
import { runOnCurrentTopology } from "./query-rerun.js";
import { servingState } from "./readiness.js";

export type Readiness =
  | { ready: true; model: ModelRef; ranges: number }
  | { ready: false; code: Extract<ErrorCode, "NOT_READY" | "MODEL_MISMATCH">; reason: string; model: ModelRef | null };

export class GatewayCore {
  constructor(private readonly context: GatewayContext) {}

  get limits(): QueryLimits {
    return this.context.limits;
  }

  get labels(): GatewayContext["labels"] {
    return this.context.labels;
  }

  get deadlineMs(): number {
    return this.context.deadlineMs;
  }

  get admission(): GatewayContext["admission"] {
    return this.context.admission;
  }

  /** The gateway's instruments: each protocol adapter records its requests with `metrics.request(protocol, code, seconds)`. */
  get metrics(): GatewayMetrics {
    return this.context.metrics ?? noGatewayMetrics;
  }

  /**
   * The one call each protocol adapter makes when an inference request ends:
   * metrics by protocol and code, and a warning line when it was slow.
   */
  finished(protocol: Protocol, code: string, seconds: number, requestId: string): void {
    this.metrics.request(protocol, code, seconds);
    const { log, slowQueryMs } = this.context;
    if (log && slowQueryMs !== undefined && seconds * 1000 > slowQueryMs) {
      log.warn("slow request", { requestId, protocol, code, ms: Math.round(seconds * 1000), slowQueryMs });
    }
  }

  /** POST /v1/distribution and Softmax.Distribution; undefined: not served. */
  get distribution(): DistributionService | undefined {
    return this.context.distribution;
  }

  /**
   * Readiness by the one serving rule (readiness.ts): not ready for want of
   * shards is NOT_READY; shards or labels that disagree about the head is MODEL_MISMATCH.
   */
  readiness(): Readiness {
    const topology = this.context.shardSet.topology;
    const state = servingState(topology, this.context.labels);
    if (state.ok) return { ready: true, model: state.model, ranges: topology.ranges.length };
    return { ready: false, code: state.code === "MODEL_MISMATCH" ? "MODEL_MISMATCH" : "NOT_READY", reason: state.reason, model: topology.model };
  }

  /** The model when ready; otherwise the readiness refusal as an error. */
  requireReady(): ModelRef {
    const readiness = this.readiness();
    if (!readiness.ready) throw new ShardmaxError(readiness.code, readiness.reason);
    return readiness.model;
  }

  /** Called with the readiness each time the shard set changes. */
  onReadinessChange(listener: (readiness: Readiness) => void): void {
    this.context.shardSet.onChange(() => listener(this.readiness()));
  }

  /** What GET /v1/model and Softmax.Info report. */
  model(): ModelInfo {
    const { shardSet, limits, labels, exposeTopology } = this.context;
    return modelView(shardSet.topology, limits, labels, exposeTopology);
  }

  /** The deadline of a request that arrived now: the gateway's own, or the caller's if sooner. */
  deadline(callDeadline?: Date): Date {
    const own = Date.now() + this.context.deadlineMs;
    return new Date(callDeadline ? Math.min(own, callDeadline.getTime()) : own);
  }

  /** The estimated bytes of the query's answer, as admission counts them. */
  answerBytes(query: Query): number {
    return queryAnswerBytes(query, this.context.labels);
  }

  /** Admits, checks and runs a query on the current topology (once more if the topology changed under it). */
  async query(query: Query, callDeadline?: Date): Promise<Answer> {
    const { shardSet, fanOut, limits, labels, admission, tracing } = this.context;
    const deadline = this.deadline(callDeadline);
    // Traced, the query carries its span's context to the fan-out: each shard call becomes a child span.
    const span = tracing?.enabled ? tracing.tracer.startSpan("shardmax.query", { kind: SpanKind.SERVER, attributes: { "shardmax.rows": query.rows } }) : null;
    const traced = span ? { ...query, trace: withSpan(ROOT_CONTEXT, span) } : query;
    const work = () => runOnCurrentTopology(traced, () => shardSet.topology, fanOut, limits, deadline, labels);
    try {
      const answer = await admission.run(query.rows, work, this.answerBytes(query));
      this.metrics.rows(query.rows);
      return answer;
    } catch (err) {
      span?.setStatus({ code: SpanStatusCode.ERROR, message: ShardmaxError.from(err).code });
      throw err;
    } finally {
      span?.end();
    }
  }
}
