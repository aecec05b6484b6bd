/**
 * The REST `/v2` adapter (Open Inference Protocol, KServe V2), a fastify
 * plugin over the core, registered with prefix `/v2`: server and model
 * metadata, health, and infer with JSON tensors or the binary extension.
 * Errors are V2's envelope `{"error": "…"}` with the status of the error
 * table; health answers are a bare status (200 true, 400 false), as the
 * specification asks.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { quoteShort } from "../../shared/text/quote-short.js";
import type { GatewayCore } from "./core.js";
import { recordRestRequests } from "./request-metrics.js";
import { errorHandler } from "./rest-errors.js";
import { attachBinary, encodeResponse, HEADER_LENGTH, splitBody } from "./v2-binary.js";
import { queryFromV2, type V2InferRequest, v2Outputs } from "./v2-infer.js";
import { checkModel, MODEL_VERSION, v2ModelMetadata, v2ServerMetadata } from "./v2-model.js";
import { V2_SCHEMAS } from "./v2-schemas.js";

export interface RestV2Options {
  core: GatewayCore;
  modelName: string;
  bodyLimitBytes: number;
  log: Logger;
}

type ModelParams = { name: string; version?: string };

/** The bytes after each request's JSON header, between the body parser and the handler. */
const tails = new WeakMap<FastifyRequest, Buffer>();

export const restV2: FastifyPluginAsync<RestV2Options> = async (app: FastifyInstance, { core, modelName, bodyLimitBytes, log }) => {
  app.setErrorHandler(errorHandler(log, bodyLimitBytes, (error) => ({ error: error.message })));
  recordRestRequests(app, core, "rest_v2");
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `${request.method} ${quoteShort(request.url)}: no such route` });
  });
  // JSON, or a JSON header and raw tensors (binary extension); tritonclient sends no Content-Type at all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (request, body, done) => {
    const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (!["", "application/json", "application/octet-stream"].includes(type)) {
      done(new ShardmaxError("UNSUPPORTED_MEDIA_TYPE", `body: send Content-Type application/json or application/octet-stream, got ${quoteShort(type)}`));
      return;
    }
    try {
      const { header, tail } = splitBody(body as Buffer, request.headers[HEADER_LENGTH]);
      tails.set(request, tail);
      done(null, header);
    } catch (err) {
      done(err as Error);
    }
  });

  const empty = (ready: boolean, reply: FastifyReply) => reply.status(ready ? 200 : 400).send();
  app.get("/", { schema: { response: V2_SCHEMAS.serverMetadata } }, async () => v2ServerMetadata());
  app.get("/health/live", { schema: { response: V2_SCHEMAS.health } }, async (_request, reply) => empty(true, reply));
  app.get("/health/ready", { schema: { response: V2_SCHEMAS.health } }, async (_request, reply) => empty(core.readiness().ready, reply));

  for (const path of ["/models/:name", "/models/:name/versions/:version"]) {
    app.get<{ Params: ModelParams }>(path, { schema: { params: V2_SCHEMAS.params, response: V2_SCHEMAS.modelMetadata } }, async (request) => {
      checkModel(modelName, request.params.name, request.params.version);
      return v2ModelMetadata(core, modelName);
    });
    app.get<{ Params: ModelParams }>(`${path}/ready`, { schema: { params: V2_SCHEMAS.params, response: V2_SCHEMAS.health } }, async (request, reply) => {
      checkModel(modelName, request.params.name, request.params.version);
      return empty(core.readiness().ready, reply);
    });
    app.post<{ Params: ModelParams; Body: V2InferRequest & { id?: string } }>(
      `${path}/infer`,
      { schema: { params: V2_SCHEMAS.params, body: V2_SCHEMAS.inferRequest, response: V2_SCHEMAS.infer } },
      async (request, reply) => {
        checkModel(modelName, request.params.name, request.params.version);
        const id = request.body.id;
        const body = attachBinary(request.body, tails.get(request) ?? Buffer.alloc(0));
        const { query, plan } = queryFromV2(body);
        const answer = await core.query(query);
        const head = { model_name: modelName, model_version: MODEL_VERSION, ...(id !== undefined ? { id } : {}) };
        const encoded = encodeResponse(head, v2Outputs(answer, plan));
        if ("json" in encoded) return encoded.json;
        return reply.header("Inference-Header-Content-Length", String(encoded.headerLength)).type("application/octet-stream").send(encoded.body);
      },
    );
  }
};
