/**
 * The gateway's REST app, built without listening so tests can `inject`:
 * POST /v1/softmax, POST /v1/distribution, GET /v1/model, GET /healthz, GET /readyz.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import type { GatewayContext } from "./context.js";
import { DEFAULT_TOP_K, queryAnswerBytes, type Query } from "./query.js";
import { runOnCurrentTopology } from "./query-rerun.js";
import type { SampleRequest } from "./sampling.js";
import { HIDDEN_SCHEMA, hiddenFromJson } from "./hidden-json.js";
import { labelProblem } from "./labels.js";
import { clientErrorHandler, envelope, errorHandler } from "./rest-errors.js";
import { modelView } from "./model-view.js";
import { STREAM_ABOVE_BYTES, answerStream } from "./answer-stream.js";
import { boundText, quoteShort } from "../../shared/text/quote-short.js";
import { registerDistributionRoute } from "./distribution-rest.js";

export interface AppOptions extends GatewayContext {
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  log: Logger;
}

interface SoftmaxBody {
  hidden: number[][];
  topK?: number;
  targets?: number[][];
  temperature?: number;
  sample?: SampleRequest;
}

const softmaxSchema = {
  type: "object",
  required: ["hidden"],
  additionalProperties: false,
  properties: {
    hidden: HIDDEN_SCHEMA,
    topK: { type: "integer" },
    targets: { type: "array", items: { type: "array", items: { type: "integer" } } },
    temperature: { type: "number" },
    sample: {
      type: "object",
      required: ["n"],
      additionalProperties: false,
      properties: {
        n: { type: "integer" },
        seed: { anyOf: [{ type: "integer" }, { type: "array", items: { type: "integer" } }] },
        topK: { type: "integer" },
        topP: { type: "number" },
        minP: { type: "number" },
      },
    },
  },
} as const;

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    // Slow clients are cut: the whole request (headers and body) within requestTimeoutMs, checked every second;
    // idle keep-alive connections close after keepAliveTimeoutMs.
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    http: { headersTimeout: options.requestTimeoutMs, connectionsCheckingInterval: 1000, requireHostHeader: false },
    // Errors the HTTP parser or the router raise before a route runs get our envelope too.
    clientErrorHandler: clientErrorHandler(options.bodyLimitBytes),
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).status(400).send(envelope(new ShardmaxError("MALFORMED_REQUEST", `request: ${boundText(error.message, 200)}`)));
    },
    // Strict JSON types: "1.5" is not a number and unknown fields are errors, not silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  // JSON only: fastify would otherwise hand a text/plain body to the schema as a string.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler(errorHandler(options.log, options.bodyLimitBytes));
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(envelope(new ShardmaxError("NOT_FOUND", `${request.method} ${quoteShort(request.url)}: no such route`)));
  });
  // Node answers a missing Host with a bare 400; HTTP/1.1 requires it, so refuse it here, in our envelope.
  app.addHook("onRequest", async (request) => {
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) throw new ShardmaxError("MALFORMED_REQUEST", "Host: header is required in HTTP/1.1");
  });

  app.post<{ Body: SoftmaxBody }>("/v1/softmax", { schema: { body: softmaxSchema } }, async (request, reply) => {
    const query = queryFromJson(request.body);
    const deadline = new Date(Date.now() + options.deadlineMs);
    const bytes = queryAnswerBytes(query, options.labels);
    const answer = await options.admission.run(
      query.rows,
      () => runOnCurrentTopology(query, () => options.shardSet.topology, options.fanOut, options.limits, deadline, options.labels),
      bytes,
    );
    if (bytes <= STREAM_ABOVE_BYTES) return answer;
    return reply.type("application/json; charset=utf-8").send(answerStream(answer));
  });

  if (options.distribution) {
    registerDistributionRoute(app, options.distribution, { ...options, maxResponseBytes: options.limits.maxResponseBytes });
  }
  app.get("/v1/model", async () => modelView(options.shardSet.topology, options.limits, options.labels, options.exposeTopology));
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async () => {
    const topology = options.shardSet.topology;
    if (!topology.ready) throw new ShardmaxError(topology.code === "MODEL_MISMATCH" ? "MODEL_MISMATCH" : "NOT_READY", topology.reason);
    const mislabeled = labelProblem(options.labels, topology.model);
    if (mislabeled) throw new ShardmaxError("MODEL_MISMATCH", mislabeled);
    return { status: "ready", ranges: topology.ranges.length };
  });
  return app;
}

/** The body as a Query; a wrong d and the limits are checkQuery's. */
function queryFromJson(body: SoftmaxBody): Query {
  const query: Query = { ...hiddenFromJson(body.hidden), topK: body.topK ?? DEFAULT_TOP_K, targets: body.targets ?? [], temperature: body.temperature ?? 1 };
  return body.sample ? { ...query, sample: body.sample } : query;
}
