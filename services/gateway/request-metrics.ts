/**
 * Per-protocol request metrics from one place each: REST plugins call
 * `recordRestRequests` once (hooks on their own scope), gRPC services wrap a
 * handler's promise with `recordGrpcRequest`. Only inference requests count
 * (POST routes, Query calls): probes, model views and scrapes would drown the
 * rate and the latency quantiles an operator watches.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { GatewayMetrics, Protocol } from "../../shared/metrics/gateway-metrics.js";
import { toShardmaxError } from "./rest-errors.js";

const codes = new WeakMap<FastifyRequest, string>();

export function recordRestRequests(app: FastifyInstance, metrics: GatewayMetrics, protocol: Protocol): void {
  // onError sees the error before the plugin's error handler answers it: its code is the label.
  app.addHook("onError", async (request, _reply, error) => {
    codes.set(request, toShardmaxError(error, 0).code);
  });
  app.addHook("onResponse", async (request, reply) => {
    if (request.method !== "POST") return;
    const code = codes.get(request) ?? (reply.statusCode < 400 ? "OK" : "INTERNAL");
    metrics.request(protocol, code, reply.elapsedTime / 1000);
  });
}

/** Records one gRPC request by its outcome; the handler's result or error passes through unchanged. */
export async function recordGrpcRequest<T>(metrics: GatewayMetrics, protocol: Protocol, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await work();
    metrics.request(protocol, "OK", (performance.now() - started) / 1000);
    return result;
  } catch (err) {
    metrics.request(protocol, ShardmaxError.from(err).code, (performance.now() - started) / 1000);
    throw err;
  }
}
