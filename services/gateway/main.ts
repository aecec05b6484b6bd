/**
 * Runs the gateway: the shard set (discovery + health), REST on one port and
 * the Softmax gRPC service on another, both answering from the same topology.
 * Stopping drains: health says NOT_SERVING, the listeners close, in-flight
 * queries finish (up to drainMs), and only then are the shard clients closed.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../../shared/log.js";
import { RowAdmission } from "./admission.js";
import { buildApp } from "./app.js";
import { COALESCER_DEFAULTS, CoalescingFanOut } from "./coalescer.js";
import { hostsFileLookup, isDnsEntry, shardResolver, systemLookup } from "./discovery.js";
import { DistributionService, type DistributionStats } from "./distribution.js";
import { FanOut, type FanOutStats } from "./fanout.js";
import { GatewayCore } from "./core.js";
import { SoftmaxServer } from "./grpc-service.js";
import type { QueryLimits } from "./query.js";
import { labelProblem, loadLabels, type Labels } from "./labels.js";
import { ShardSet } from "./shard-set.js";
import type { ShardTransport } from "./shard-client.js";

export interface GatewayConfig {
  /** Shard addresses: HOST:PORT, or dns:NAME:PORT for every address NAME resolves to. */
  shards: string[];
  /** How often dns: entries are looked up again. */
  resolveIntervalMs: number;
  /** Test-only: resolve dns: names from this hosts-format file instead of DNS. */
  hostsFile?: string;
  /** REST listen address host:port (port 0 picks a free one). */
  http: string;
  /** gRPC listen address host:port. */
  grpc: string;
  deadlineMs: number;
  refreshMs: number;
  bodyLimitBytes: number;
  /** gRPC message limit between the gateway and its shards. */
  maxMessageBytes: number;
  /** Most rows held at once over all queries (admission.ts). */
  maxInflightRows: number;
  /** Slow clients: the whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** Shard addresses and socket errors in /v1/model, Info and error messages (operators); off: ranges and health only. */
  exposeTopology: boolean;
  limits: QueryLimits;
  /** Most rows × V log-probs one full-distribution request may ask for. */
  maxDistributionValues: number;
  drainMs: number;
  /** After a coalesced batch is answered, how long the next may wait for its callers' next queries (coalescer.ts). */
  lingerUs: number;
  /** --hedge-after: latency quantile in (0, 1) after which a range's Partial also goes to a second replica; null: off. */
  hedgeAfter?: number | null;
  /** --shard-transport: Partials on one PartialStream per shard, or unary calls. */
  shardTransport?: ShardTransport;
  /** A label file (text, one per line) or tokenizer.json, or a folder holding one; unset: no labels. */
  labels?: string;
}

/**
 * How long a shard may take to answer Info before it counts as down. Not tied
 * to the refresh interval: a shard slow to answer on a busy node is not dead,
 * and one that hangs is caught sooner anyway, by the fan-out's per-attempt
 * share of a query's deadline.
 */
const INFO_DEADLINE_MS = 2000;

export interface RunningGateway {
  httpPort: number;
  grpcPort: number;
  shardSet: ShardSet;
  core: GatewayCore;
  labels: Labels | null;
  stats: FanOutStats;
  distributionStats: DistributionStats;
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
    resolve: shardResolver(config.shards, {
      resolveIntervalMs: config.resolveIntervalMs,
      lookup: config.hostsFile ? hostsFileLookup(config.hostsFile) : systemLookup,
      log: log.child("discovery"),
    }),
    gapsAreMissingShards: config.shards.some(isDnsEntry),
    retireAfterMs: config.deadlineMs,
    refreshMs: config.refreshMs,
    infoDeadlineMs: INFO_DEADLINE_MS,
    maxMessageBytes: config.maxMessageBytes,
    log: log.child("shards"),
    exposeTopology: config.exposeTopology,
    shardTransport: config.shardTransport,
  });
  // Concurrent queries share one Partial per range (coalescer.ts).
  const ranges = new FanOut(shardSet, { log: log.child("fanout"), exposeTopology: config.exposeTopology, hedgeAfter: config.hedgeAfter });
  const fanOut = new CoalescingFanOut(ranges, { ...COALESCER_DEFAULTS, lingerUs: config.lingerUs });
  // At most two worst-case answers are built at once: what the memory arithmetic in the README assumes.
  const admission = new RowAdmission(config.maxInflightRows, 2 * config.limits.maxResponseBytes);
  const base = { shardSet, fanOut, limits: config.limits, deadlineMs: config.deadlineMs, labels, admission, exposeTopology: config.exposeTopology };
  const distribution = new DistributionService(base, config.maxDistributionValues);
  const core = new GatewayCore({ ...base, distribution });
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

  const app = buildApp({ core, bodyLimitBytes: config.bodyLimitBytes, requestTimeoutMs: config.requestTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs, log });
  app.server.maxConnections = config.maxConnections;
  const { host, port } = splitHostPort(config.http);
  await app.listen({ host, port });
  const httpPort = (app.server.address() as { port: number }).port;

  // The Softmax door takes what the REST door takes, and answers at most what an answer may cost.
  const grpcServer = new SoftmaxServer({ core, maxReceiveBytes: config.bodyLimitBytes, maxSendBytes: config.limits.maxResponseBytes, log });
  const grpcPort = await grpcServer.listen(config.grpc);
  log.info("gateway listening", { http: `${host}:${httpPort}`, grpc: `${splitHostPort(config.grpc).host}:${grpcPort}`, shards: config.shards.join(",") });

  return {
    httpPort,
    grpcPort,
    shardSet,
    core,
    labels,
    stats: fanOut.stats,
    distributionStats: distribution.stats,
    async stop() {
      log.info("draining", { drainMs: config.drainMs });
      grpcServer.setServing(false);
      await Promise.all([closeWithin(app, config.drainMs), grpcServer.shutdown(config.drainMs)]);
      shardSet.close();
      log.info("stopped", { partialAttempts: fanOut.stats.attempts, retries: fanOut.stats.retries, hedges: fanOut.stats.hedges, reruns: fanOut.stats.reruns, unanswered: fanOut.stats.unanswered });
    },
  };
}

/**
 * fastify's close waits for in-flight requests without a bound; the drain time
 * bounds it. A keep-alive connection whose request finishes during the drain
 * would then idle until its keep-alive timeout, so idle ones are closed as
 * they appear.
 */
async function closeWithin(app: FastifyInstance, drainMs: number): Promise<void> {
  const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      resolve();
    }, drainMs);
  });
  await Promise.race([app.close(), forced]);
  clearInterval(sweep);
  clearTimeout(timer);
}
