/**
 * Per-protocol request records from one place each: REST plugins call
 * `recordRestRequests` once (hooks on their own scope), gRPC services wrap a
 * handler's promise with `recordGrpcRequest`; both end in the core's
 * `finished` (metrics and the slow-request line). Only inference requests
 * count (POST routes, Query calls): probes, model views and scrapes would
 * drown the rate and the latency quantiles an operator watches.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Protocol } from "../../shared/metrics/gateway-metrics.js";
import type { GatewayCore } from "./core.js";
import { toShardmaxError } from "./rest-errors.js";

const codes = new WeakMap<FastifyRequest, string>();

export function recordRestRequests(app: FastifyInstance, core: Pick<GatewayCore, "finished">, protocol: Protocol): void {
  // onError sees the error before the plugin's error handler answers it: its code is the label.
  app.addHook("onError", async (request, _reply, error) => {
    codes.set(request, toShardmaxError(error, 0).code);
  });
  app.addHook("onResponse", async (request, reply) => {
    if (request.method !== "POST") return;
    const code = codes.get(request) ?? (reply.statusCode < 400 ? "OK" : "INTERNAL");
    core.finished(protocol, code, reply.elapsedTime / 1000, request.id);
  });
}

/** Records one gRPC request by its outcome; the handler's result or error passes through unchanged. */
export async function recordGrpcRequest<T>(core: Pick<GatewayCore, "finished">, protocol: Protocol, requestId: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await work();
    core.finished(protocol, "OK", (performance.now() - started) / 1000, requestId);
    return result;
  } catch (err) {
    core.finished(protocol, ShardmaxError.from(err).code, (performance.now() - started) / 1000, requestId);
    throw err;
  }
}
