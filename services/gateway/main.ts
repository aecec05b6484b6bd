/**
 * Runs the gateway: the shard set (discovery + health), REST on one port and
 * the Softmax gRPC service on another, both answering from the same topology.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { buildApp } from "./app.js";
import { FanOut } from "./fanout.js";
import { SoftmaxServer } from "./grpc-service.js";
import type { QueryLimits } from "./query.js";
import { labelProblem, loadLabels, type Labels } from "./labels.js";
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
  /** A label file (text, one per line) or tokenizer.json, or a folder holding one; unset: no labels. */
  labels?: string;
}

export interface RunningGateway {
  httpPort: number;
  grpcPort: number;
  shardSet: ShardSet;
  labels: Labels | null;
  stop(): Promise<void>;
}

function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(address.slice(at + 1)) };
}

export async function runGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const labels = config.labels === undefined ? null : await loadLabels(config.labels);
  if (labels) log.info("labels", { source: labels.source, kind: labels.kind, count: labels.count });
  const shardSet = new ShardSet({
    resolve: async () => config.shards,
    refreshMs: config.refreshMs,
    // Not tied to refreshMs: a loaded machine may take a second to answer, which is not a dead shard.
    infoDeadlineMs: 2000,
    maxMessageBytes: config.maxMessageBytes,
    log: log.child("shards"),
  });
  const fanOut = new FanOut(shardSet);
  const context = { shardSet, fanOut, limits: config.limits, deadlineMs: config.deadlineMs, labels };
  await shardSet.start();
  // Shards already serving another V: refuse now, with one line, rather than serve misread labels.
  const mislabeled = labelProblem(labels, shardSet.topology.model);
  if (mislabeled) {
    shardSet.close();
    throw new ShardmaxError("MODEL_MISMATCH", mislabeled);
  }
  let lastProblem: string | null = null;
  shardSet.onChange((topology) => {
    const problem = labelProblem(labels, topology.model);
    if (problem && problem !== lastProblem) log.warn("not serving", { reason: problem });
    lastProblem = problem;
  });

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
    labels,
    async stop() {
      grpcServer.setServing(false);
      await Promise.all([app.close(), grpcServer.shutdown(config.drainMs)]);
      shardSet.close();
    },
  };
}
