/**
 * The shard's metrics listener over TLS: with the shard's certificate it
 * answers HTTPS (verified against the test CA) and nothing in plaintext.
 */
import { readFileSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type MetricsServer, serveMetrics } from "../../../services/shard/metrics-server.js";
import { PemFiles } from "../../../shared/grpc/tls.js";
import { silentLogger } from "../../../shared/log.js";
import { createRegistry } from "../../../shared/metrics/registry.js";
import { makeTestCerts, type TestCerts } from "../../helpers/tls-certs.js";

let certs: TestCerts;
let files: PemFiles;
let server: MetricsServer;

beforeAll(async () => {
  certs = makeTestCerts();
  files = new PemFiles({ cert: certs.serverCert, key: certs.serverKey }, silentLogger);
  server = await serveMetrics("127.0.0.1:0", createRegistry(), files);
});

afterAll(async () => {
  await server.close();
  files.close();
  rmSync(certs.dir, { recursive: true, force: true });
});

it("answers GET /metrics over HTTPS, verified against the CA", async () => {
  const body = await new Promise<string>((resolve, reject) =>
    httpsGet({ host: "127.0.0.1", port: server.port, path: "/metrics", ca: readFileSync(certs.caCert), servername: "localhost" }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d)).on("end", () => resolve(text));
    }).on("error", reject),
  );
  expect(body).toContain("shardmax_process_resident_memory_bytes");
});

it("refuses plaintext HTTP", async () => {
  const outcome = await new Promise<string>((resolve) =>
    httpGet({ host: "127.0.0.1", port: server.port, path: "/metrics" }, (res) => resolve(`status ${res.statusCode}`)).on("error", (err) =>
      resolve(err.message),
    ),
  );
  expect(outcome).not.toMatch(/^status 200/);
});
