/**
 * Traces with OpenTelemetry, off unless an OTLP/HTTP endpoint is given. Each
 * process gets its own provider (never the global one: tests run several
 * gateways in one process), exporting spans in batches as OTLP JSON. Off, the
 * tracer is the API's no-op one and callers skip the rest (spans are only made
 * for a query that carries a trace context), so tracing costs nothing then.
 *
 * Context travels explicitly (no async-hooks context manager): a query holds
 * its span's context, a shard call carries it to the shard as a W3C
 * `traceparent` in gRPC metadata, and the shard's span is its child.
 */
import { type Context, ROOT_CONTEXT, type Tracer, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

export type { Context, Span, Tracer } from "@opentelemetry/api";

export interface Tracing {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

/** How long finished spans may wait before they are sent: short, so a trace shows up while one looks for it. */
const EXPORT_DELAY_MS = 500;

export const noTracing: Tracing = { enabled: false, tracer: trace.getTracer("shardmax-off"), shutdown: async () => {} };

export function createTracing(endpoint: string | undefined, serviceName: string): Tracing {
  if (endpoint === undefined) return noTracing;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }), { scheduledDelayMillis: EXPORT_DELAY_MS })],
  });
  return { enabled: true, tracer: provider.getTracer("shardmax"), shutdown: () => provider.shutdown() };
}

const propagator = new W3CTraceContextPropagator();

/** The `traceparent` (and `tracestate`) of a context, as metadata entries. */
export function traceHeaders(context: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(context, carrier, { set: (c, key, value) => (c[key] = value) });
  return carrier;
}

/** The remote parent a caller sent (`traceparent`), or the root context when none or malformed. */
export function contextFromHeaders(get: (key: string) => string | undefined): Context {
  return propagator.extract(ROOT_CONTEXT, {}, { get: (_c, key) => get(key), keys: () => ["traceparent", "tracestate"] });
}

/** The context whose parent is `span`'s. */
export function withSpan(parent: Context, span: ReturnType<Tracer["startSpan"]>): Context {
  return trace.setSpan(parent, span);
}
