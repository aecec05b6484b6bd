/**
 * The status page at GET / (services/gateway/status-page/: plain HTML, CSS
 * and JavaScript, no build step): the model, the live shard map, request rate
 * and latency quantiles from this gateway's /metrics, and a try-it panel. The
 * files are read once, at start; nothing is fetched from outside.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsync } from "fastify";
import { packageRoot } from "../../shared/package-root.js";

const FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/status/status.js": ["status.js", "text/javascript; charset=utf-8"],
  "/status/status.css": ["status.css", "text/css; charset=utf-8"],
} as const;

export const statusRoute: FastifyPluginAsync = async (app) => {
  const folder = join(packageRoot(), "services", "gateway", "status-page");
  for (const [path, [file, type]] of Object.entries(FILES)) {
    const body = readFileSync(join(folder, file));
    // The page is documented in /openapi.json; its assets are not API.
    const schema =
      path === "/"
        ? {
            summary: "The status page (HTML)",
            tags: ["operations"],
            response: { 200: { description: "HTML", content: { [type]: { schema: { type: "string" } } } } },
          }
        : { hide: true };
    app.get(path, { schema }, async (_request, reply) =>
      reply.type(type).header("cache-control", "no-cache").header("content-security-policy", "default-src 'self'").send(body),
    );
  }
};
