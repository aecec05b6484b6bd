/**
 * The REST `/v1` adapter, a fastify plugin over the core: POST /v1/softmax,
 * POST /v1/distribution, GET /v1/model, GET /healthz, GET /readyz, with
 * shardmax's own error envelope `{"error": {"code", "message"}}`.
 */
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { answerStream, STREAM_ABOVE_BYTES } from "./answer-stream.js";
import type { GatewayCore } from "./core.js";
import { registerDistributionRoute } from "./distribution-rest.js";
import { HIDDEN_SCHEMA, hiddenFromJson } from "./hidden-json.js";
import { DEFAULT_TOP_K, type Query } from "./query.js";
import { recordRestRequests } from "./request-metrics.js";
import { errorHandler } from "./rest-errors.js";
import { ERROR_RESPONSES, MODEL_INFO_SCHEMA, QUERY_RESULT_SCHEMA, STATUS_SCHEMA } from "./rest-v1-schemas.js";
import type { SampleRequest } from "./sampling.js";

export interface RestV1Options {
  core: GatewayCore;
  bodyLimitBytes: number;
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

export const restV1: FastifyPluginAsync<RestV1Options> = async (app: FastifyInstance, { core, bodyLimitBytes, log }) => {
  app.setErrorHandler(errorHandler(log, bodyLimitBytes));
  recordRestRequests(app, core, "rest_v1");

  const softmaxRoute = {
    schema: {
      summary: "Exact softmax: logZ, top-k, target log-probs and draws per row",
      tags: ["v1"],
      body: softmaxSchema,
      response: { 200: QUERY_RESULT_SCHEMA, ...ERROR_RESPONSES },
    },
  };
  app.post<{ Body: SoftmaxBody }>("/v1/softmax", softmaxRoute, async (request, reply) => {
    const query = queryFromJson(request.body, core.limits.maxRows);
    // Asked for (the status page's try-it panel): each range's shard call time, as a Server-Timing header.
    const times: [string, number][] = [];
    if (request.headers[TIMING_HEADER] === "ranges") query.onRangeTime = (range, ms) => times.push([range, ms]);
    const answer = await core.query(query);
    if (times.length > 0) void reply.header("server-timing", serverTiming(times));
    if (core.answerBytes(query) <= STREAM_ABOVE_BYTES) return answer;
    return reply.type("application/json; charset=utf-8").send(answerStream(answer));
  });

  const distribution = core.distribution;
  if (distribution) {
    registerDistributionRoute(app, distribution, {
      deadlineMs: core.deadlineMs,
      admission: core.admission,
      maxResponseBytes: core.limits.maxResponseBytes,
      maxRows: core.limits.maxRows,
      log,
    });
  }
  const get = (summary: string, ok: object) => ({ schema: { summary, tags: ["v1"], response: { 200: ok, ...ERROR_RESPONSES } } });
  app.get("/v1/model", get("The model, readiness and the shard map", MODEL_INFO_SCHEMA), async () => core.model());
  app.get("/healthz", get("Liveness: the process answers", STATUS_SCHEMA), async () => ({ status: "ok" }));
  app.get("/readyz", get("Readiness: a complete shard set serves one head (503 otherwise)", STATUS_SCHEMA), async () => {
    const readiness = core.readiness();
    if (!readiness.ready) throw new ShardmaxError(readiness.code, readiness.reason);
    return { status: "ready", ranges: readiness.ranges };
  });
};

const TIMING_HEADER = "x-shardmax-timing";

/** `range0;dur=1.25;desc="[0, 500)", …`: Server-Timing metric names must be tokens, so the range goes in desc. */
function serverTiming(times: readonly [string, number][]): string {
  return times.map(([range, ms], i) => `range${i};dur=${ms.toFixed(2)};desc="${range}"`).join(", ");
}

/** The body as a Query; a wrong d and the limits are the core's checks. */
function queryFromJson(body: SoftmaxBody, maxRows: number): Query {
  const query: Query = {
    ...hiddenFromJson(body.hidden, maxRows),
    topK: body.topK ?? DEFAULT_TOP_K,
    targets: body.targets ?? [],
    temperature: body.temperature ?? 1,
  };
  return body.sample ? { ...query, sample: body.sample } : query;
}
