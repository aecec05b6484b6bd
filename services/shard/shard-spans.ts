/**
 * A traced Partial call's spans: `shardmax.shard.partial` (child of the
 * gateway's shard call, whose `traceparent` came in the metadata) and under
 * it `shardmax.shard.queue` (waiting for a run) and `shardmax.shard.compute`
 * (from leaving the queue to the answer: the batch's run, and the next runs
 * for a call cut across batches).
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { contextFromHeaders, type Tracer, withSpan } from "../../shared/tracing/tracing.js";

export interface ShardSpans {
  /** The call left the queue. */
  started(): void;
  failed(code: string): void;
  end(): void;
}

/** `headers`: the call's metadata (unary) or the stream message's per-Partial metadata. */
export function shardSpans(tracer: Tracer, headers: Record<string, string>, rows: number): ShardSpans {
  const parent = contextFromHeaders((key) => headers[key]);
  const arrived = wallMs();
  const span = tracer.startSpan("shardmax.shard.partial", { kind: SpanKind.SERVER, attributes: { "shardmax.rows": rows }, startTime: arrived }, parent);
  const inside = withSpan(parent, span);
  let startedAt: number | null = null;
  return {
    started() {
      startedAt = wallMs();
      tracer.startSpan("shardmax.shard.queue", { startTime: arrived }, inside).end(startedAt);
    },
    failed(code) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    },
    end() {
      const now = wallMs();
      if (startedAt !== null) tracer.startSpan("shardmax.shard.compute", { startTime: startedAt }, inside).end(now);
      span.end(now);
    },
  };
}

/** Wall-clock milliseconds with sub-millisecond precision: a queue wait is often shorter than a millisecond. */
const wallMs = () => performance.timeOrigin + performance.now();
