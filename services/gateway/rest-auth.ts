/**
 * API keys on the shared HTTP server: an onRequest hook (before the body is
 * read, so an unauthenticated caller cannot make the server parse 16 MiB) and
 * a preHandler that charges the parsed body's rows. The hooks throw, and the
 * route's plugin renders the error in its own envelope.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Gatekeeper } from "./auth.js";
import { RateLimitedError } from "./key-quota.js";

const callers = new WeakMap<FastifyRequest, string>();

export function restAuth(app: FastifyInstance, gate: Gatekeeper): void {
  app.addHook("onRequest", async (request, reply) => {
    if (!gate.guardsPath(request.url)) return;
    try {
      callers.set(request, gate.admit(request.headers.authorization));
    } catch (err) {
      if (err instanceof ShardmaxError && err.code === "UNAUTHENTICATED") void reply.header("www-authenticate", 'Bearer realm="shardmax"');
      if (err instanceof RateLimitedError) void reply.header("retry-after", String(err.retryAfterS));
      throw err;
    }
  });
  app.addHook("preHandler", async (request) => {
    const caller = callers.get(request);
    if (caller !== undefined) gate.chargeRows(caller, request.body);
  });
}
