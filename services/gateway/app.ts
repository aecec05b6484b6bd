/**
 * The gateway's HTTP server, built without listening so tests can `inject`:
 * what every REST protocol shares (timeouts, connection limits, strict JSON,
 * the HTTP parser's errors), with one plugin per protocol registered on it.
 * Errors raised before any route matched (the parser's, a bad URL, an unknown
 * path) are in shardmax's own envelope; each protocol plugin answers its own
 * routes' errors in its own.
 */

import type { Server as TlsServer } from "node:tls";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import { type PemFiles, serverContext } from "../../shared/grpc/tls.js";
import type { Logger } from "../../shared/log.js";
import type { Registry } from "../../shared/metrics/registry.js";
import { boundText, quoteShort } from "../../shared/text/quote-short.js";
import type { Gatekeeper } from "./auth.js";
import type { GatewayCore } from "./core.js";
import { metricsRoute } from "./metrics-route.js";
import { registerOpenApi } from "./openapi.js";
import { REQUEST_ID_KEY, requestIdOf } from "./request-id.js";
import { restAuth } from "./rest-auth.js";
import { clientErrorHandler, envelope, errorHandler } from "./rest-errors.js";
import { restV1 } from "./rest-v1.js";
import { restV2 } from "./rest-v2.js";
import { statusRoute } from "./status-route.js";
import { DEFAULT_MODEL_NAME } from "./v2-model.js";

export interface AppOptions {
  core: GatewayCore;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  log: Logger;
  /** The one model's name on /v2 (--model-name). */
  modelName?: string;
  /** Served at GET /metrics; unset: no /metrics route. */
  registry?: Registry;
  /** HTTPS from these files, re-read on change (shared/grpc/tls.ts); with requireClientCert, mutual TLS. */
  tls?: { files: PemFiles; requireClientCert: boolean } | undefined;
  /** API keys and quotas (auth.ts); unset: open. */
  auth?: Gatekeeper | undefined;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const http = { headersTimeout: options.requestTimeoutMs, connectionsCheckingInterval: 1000, requireHostHeader: false };
  const tls = options.tls;
  const https = tls ? { ...http, ...serverContext(tls.files.pem), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert } : null;
  const app = Fastify({
    ...(https ? { https } : {}),
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    // Slow clients are cut: the whole request (headers and body) within requestTimeoutMs, checked every second;
    // idle keep-alive connections close after keepAliveTimeoutMs.
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    http,
    // Errors the HTTP parser or the router raise before a route runs get our envelope too.
    clientErrorHandler: clientErrorHandler(options.bodyLimitBytes),
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).status(400).send(envelope(new ShardmaxError("MALFORMED_REQUEST", `request: ${boundText(error.message, 200)}`)));
    },
    // Strict JSON types: "1.5" is not a number and unknown fields are errors, not silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // request.id: the caller's x-request-id when it is a short token (request-id.ts), else a new UUID.
    genReqId: (request) => requestIdOf(request.headers[REQUEST_ID_KEY]),
  }) as unknown as FastifyInstance;
  // JSON only: fastify would otherwise hand a text/plain body to the schema as a string.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler(errorHandler(options.log, options.bodyLimitBytes));
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(envelope(new ShardmaxError("NOT_FOUND", `${request.method} ${quoteShort(request.url)}: no such route`)));
  });
  // Node answers a missing Host with a bare 400; HTTP/1.1 requires it, so refuse it here, in our envelope.
  app.addHook("onRequest", async (request, reply) => {
    void reply.header(REQUEST_ID_KEY, request.id);
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined)
      throw new ShardmaxError("MALFORMED_REQUEST", "Host: header is required in HTTP/1.1");
  });
  // A rotated certificate serves new connections; open ones keep theirs.
  tls?.files.onChange((pem) => (app.server as unknown as TlsServer).setSecureContext(serverContext(pem)));
  if (options.auth) restAuth(app, options.auth);
  registerOpenApi(app);
  void app.register(restV1, { core: options.core, bodyLimitBytes: options.bodyLimitBytes, log: options.log });
  void app.register(restV2, {
    prefix: "/v2",
    core: options.core,
    modelName: options.modelName ?? DEFAULT_MODEL_NAME,
    bodyLimitBytes: options.bodyLimitBytes,
    log: options.log,
  });
  if (options.registry) void app.register(metricsRoute, { registry: options.registry });
  void app.register(statusRoute);
  return app;
}
