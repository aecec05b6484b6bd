/** A real gateway (REST + gRPC on port 0) in the test process, over real shard addresses. */
import { COALESCER_DEFAULTS } from "../../services/gateway/coalescer.js";
import { type GatewayConfig, type RunningGateway, runGateway } from "../../services/gateway/main.js";
import { type Logger, silentLogger } from "../../shared/log.js";

export interface TestGateway extends RunningGateway {
  url: string;
  grpcAddress: string;
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
}

export async function startGateway(shards: string[], overrides: Partial<GatewayConfig> = {}, log: Logger = silentLogger): Promise<TestGateway> {
  const gateway = await runGateway(
    {
      shards,
      http: "127.0.0.1:0",
      grpc: "127.0.0.1:0",
      deadlineMs: 10_000,
      refreshMs: 200,
      resolveIntervalMs: 200,
      bodyLimitBytes: 1 << 20,
      maxMessageBytes: 64 << 20,
      limits: { maxRows: 256, maxTopK: 1000, maxTargetsPerRow: 1000, maxResponseBytes: 16 << 20, maxDraws: 64 },
      maxInflightRows: 4096,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      maxConnections: 1024,
      maxDistributionValues: 1 << 24,
      exposeTopology: true,
      drainMs: 1000,
      lingerUs: COALESCER_DEFAULTS.lingerUs,
      ...overrides,
    },
    log,
  );
  const url = `http://127.0.0.1:${gateway.httpPort}`;
  const parse = async (res: Response) => ({ status: res.status, body: await res.json() });
  return {
    ...gateway,
    url,
    grpcAddress: `127.0.0.1:${gateway.grpcPort}`,
    post: async (path, body) =>
      parse(
        await fetch(url + path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      ),
    get: async (path) => parse(await fetch(url + path)),
  };
}
