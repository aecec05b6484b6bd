/**
 * GET /openapi.json is a valid OpenAPI 3 document that covers every route the
 * gateway serves (each with its request and response schemas), and /docs is
 * served from the package itself.
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApp } from "../../../services/gateway/app.js";
import { silentLogger } from "../../../shared/log.js";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { randomHead } from "../../helpers/reference-softmax.js";

let shards: InProcessShards;
let gateway: TestGateway;
let app: FastifyInstance;
const routes: { method: string; url: string; hidden: boolean }[] = [];

beforeAll(async () => {
  shards = await startInProcessShards(randomHead(3, 64, 8), [[0, 64]]);
  gateway = await startGateway(shards.addresses);
  app = buildApp({ core: gateway.core, bodyLimitBytes: 1 << 20, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat())
      routes.push({ method, url: route.url, hidden: Boolean((route.schema as { hide?: boolean } | undefined)?.hide) });
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await gateway.stop();
  await shards.stop();
});

/** "/v2/models/:name/infer" → "/v2/models/{name}/infer" */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

it("is a valid OpenAPI 3 document", async () => {
  const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
  expect(doc.openapi).toMatch(/^3\./);
  await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
});

it("covers every route, each with a success answer and, for the API, its errors", async () => {
  const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
  const served = routes.filter((r) => !r.hidden && r.method !== "HEAD" && !r.url.startsWith("/docs"));
  expect(served.map((r) => r.url)).toEqual(
    expect.arrayContaining(["/v1/softmax", "/v1/model", "/healthz", "/readyz", "/v1/distribution", "/v2/models/:name/infer"]),
  );
  for (const route of served) {
    // A prefix's root ("/v2") is registered as "/v2" and "/v2/"; the document names one of them.
    const path = openApiPath(route.url);
    const operation = (doc.paths[path] ?? doc.paths[`${path}/`] ?? doc.paths[path.replace(/\/$/, "")])?.[route.method.toLowerCase()];
    expect(operation, `${route.method} ${route.url}`).toBeDefined();
    const statuses = Object.keys(operation.responses);
    expect(statuses, `${route.method} ${route.url}`).toContain("200");
    // The API's routes say how they fail; the operations pages (/, /metrics) have no error body to describe.
    const api = !(operation.tags ?? []).includes("operations");
    if (api)
      expect(
        statuses.some((s) => s.startsWith("4") || s.startsWith("5")),
        `${route.method} ${route.url} errors`,
      ).toBe(true);
    if (route.method === "POST") expect(operation.requestBody, `${route.url} body`).toBeDefined();
  }
});

it("serves /docs and its assets from the package", async () => {
  const page = await app.inject({ method: "GET", url: "/docs/" });
  expect(page.statusCode).toBe(200);
  expect(page.headers["content-type"]).toMatch(/text\/html/);
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets.length).toBeGreaterThan(0);
  for (const asset of assets) expect(asset.startsWith("http"), asset).toBe(false);
  const script = assets.find((a) => a.endsWith(".js"))!;
  const url = script.startsWith("/") ? script : `/docs/${script.replace(/^\.\//, "")}`;
  expect((await app.inject({ method: "GET", url })).statusCode).toBe(200);
});
