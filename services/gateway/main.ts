/**
 * Runs the gateway: the shard set (discovery + health), REST on one port and
 * the Softmax gRPC service on another, both answering from the same topology.
 */
import type { Logger } from "../../shared/log.js";
import { buildApp } from "./app.js";
import { CoalescingFanOut } from "./coalescer.js";
import { FanOut } from "./fanout.js";
import { SoftmaxServer } from "./grpc-service.js";
import type { QueryLimits } from "./query.js";
import { ShardSet } from "./shard-set.js";

export interface GatewayConfig {
  /** Static shard addresses, host:port. */
  shards: string[];
  /** REST listen address host:port (port 0 picks a free one). */
  http: string;
  /** gRPC listen address host:port. */
  grpc: string;
  deadlineMs: number;
  refreshMs: number;
  bodyLimitBytes: number;
  maxMessageBytes: number;
  limits: QueryLimits;
  drainMs: number;
}

export interface RunningGateway {
  httpPort: number;
  grpcPort: number;
  shardSet: ShardSet;
  stop(): Promise<void>;
}

function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(address.slice(at + 1)) };
}

export async function runGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const shardSet = new ShardSet({
    resolve: async () => config.shards,
    refreshMs: config.refreshMs,
    infoDeadlineMs: Math.min(config.refreshMs, 2000),
    maxMessageBytes: config.maxMessageBytes,
    log: log.child("shards"),
  });
  // Concurrent queries share one Partial per range (coalescer.ts).
  const fanOut = new CoalescingFanOut(new FanOut(shardSet));
  const context = { shardSet, fanOut, limits: config.limits, deadlineMs: config.deadlineMs };
  await shardSet.start();

  const app = buildApp({ ...context, bodyLimitBytes: config.bodyLimitBytes, log });
  const { host, port } = splitHostPort(config.http);
  await app.listen({ host, port });
  const httpPort = (app.server.address() as { port: number }).port;

  const grpcServer = new SoftmaxServer({ ...context, maxMessageBytes: config.maxMessageBytes, log });
  const grpcPort = await grpcServer.listen(config.grpc);
  log.info("gateway listening", { http: `${host}:${httpPort}`, grpc: `${splitHostPort(config.grpc).host}:${grpcPort}`, shards: config.shards.join(",") });

  return {
    httpPort,
    grpcPort,
    shardSet,
    async stop() {
      grpcServer.setServing(false);
      await Promise.all([app.close(), grpcServer.shutdown(config.drainMs)]);
      shardSet.close();
    },
  };
}
