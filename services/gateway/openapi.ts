/**
 * The REST API's own description: an OpenAPI 3 document at GET /openapi.json
 * generated from the route schemas (@fastify/swagger), and human docs at
 * GET /docs (@fastify/swagger-ui, served from the package; nothing fetched
 * from outside). Registered before the protocol plugins so it sees their routes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { packageRoot } from "../../shared/package-root.js";

export function registerOpenApi(app: FastifyInstance): void {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string };
  void app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "shardmax gateway",
        description: "Exact softmax over a vocabulary-sharded output head: shardmax's own /v1 API and the Open Inference Protocol (KServe V2) under /v2.",
        version,
      },
    },
  });
  void app.register(fastifySwaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
