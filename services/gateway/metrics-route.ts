/**
 * GET /metrics on the gateway's HTTP port: the process's registry in the
 * Prometheus text format. Open like the probes; it carries counts and
 * timings, never request contents.
 */
import type { FastifyPluginAsync } from "fastify";
import { METRICS_CONTENT_TYPE, type Registry } from "../../shared/metrics/registry.js";

export const metricsRoute: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  const schema = {
    summary: "Prometheus metrics (text exposition format)",
    tags: ["operations"],
    response: { 200: { description: "Prometheus text format", content: { [METRICS_CONTENT_TYPE]: { schema: { type: "string" } } } } },
  };
  app.get("/metrics", { schema }, async (_request, reply) => reply.type(METRICS_CONTENT_TYPE).send(await registry.metrics()));
};
