/**
 * The shard's metrics listener (`--metrics-listen HOST:PORT`): a plain HTTP
 * server apart from the gRPC port, answering GET /metrics in the Prometheus
 * text format and 404 to anything else. It serves while the slice loads, so
 * load progress can be watched. With the shard's --tls-cert it is HTTPS
 * (the same certificate, re-read on change); client certificates are not
 * asked for here, since Prometheus scrapes with its own identity and the
 * NetworkPolicy already limits who reaches the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type PemFiles, serverContext } from "../../shared/grpc/tls.js";
import { METRICS_CONTENT_TYPE, type Registry } from "../../shared/metrics/registry.js";
import { splitHostPort } from "../../shared/text/host-port.js";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(address: string, registry: Registry, tls?: PemFiles): Promise<MetricsServer> {
  const answer = (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": METRICS_CONTENT_TYPE }).end(text),
      (err: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
    );
  };
  const server: Server = tls ? createHttpsServer(serverContext(tls.pem), answer) : createServer(answer);
  tls?.onChange((pem) => (server as ReturnType<typeof createHttpsServer>).setSecureContext(serverContext(pem)));
  const { host, port } = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
