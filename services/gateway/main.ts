/**
 * Runs the gateway: the shard set (discovery + health), REST on one port and
 * the Softmax gRPC service on another, both answering from the same topology.
 * Stopping drains: health says NOT_SERVING, the listeners close, in-flight
 * queries finish (up to drainMs), and only then are the shard clients closed.
 */

import type { FastifyInstance } from "fastify";
import { realClock } from "../../shared/batching/clock.js";
import { type Labels, labelProblem, loadLabels } from "../../shared/checkpoint/labels.js";
import { ShardmaxError } from "../../shared/errors.js";
import { channelCredentials, type DialTls, PemFiles, type ServingTls } from "../../shared/grpc/tls.js";
import type { Logger } from "../../shared/log.js";
import { gatewayMetrics, noGatewayMetrics, type TopologyGauges } from "../../shared/metrics/gateway-metrics.js";
import { createRegistry, type Registry } from "../../shared/metrics/registry.js";
import { splitHostPort } from "../../shared/text/host-port.js";
import { createTracing } from "../../shared/tracing/tracing.js";
import { RowAdmission } from "./admission.js";
import { ApiKeys } from "./api-keys.js";
import { buildApp } from "./app.js";
import { Gatekeeper } from "./auth.js";
import { COALESCER_DEFAULTS, CoalescingFanOut } from "./coalescer.js";
import { GatewayCore } from "./core.js";
import { hostsFileLookup, isDnsEntry, shardResolver, systemLookup } from "./discovery.js";
import { DistributionService, type DistributionStats } from "./distribution.js";
import { FanOut, type FanOutStats } from "./fanout.js";
import { inferenceModule } from "./grpc-inference.js";
import { SoftmaxServer } from "./grpc-service.js";
import { KeyQuota, type KeyRateLimit } from "./key-quota.js";
import type { QueryLimits } from "./query.js";
import type { ShardTransport } from "./shard-client.js";
import { ShardSet } from "./shard-set.js";
import type { Topology } from "./topology.js";
import { DEFAULT_MODEL_NAME } from "./v2-model.js";

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
  /** The model's name on the Open Inference Protocol (REST /v2, gRPC inference); default "shardmax". */
  modelName?: string;
  /** A request slower than this gets a "slow request" warning line; unset: never. */
  slowQueryMs?: number;
  /** OTLP/HTTP endpoint for traces; unset: tracing is off. */
  otlpEndpoint?: string;
  /** Where the metrics go (tests pass their own); unset: a new registry with the process metrics. */
  registry?: Registry;
  /** false: record no metrics (/metrics answers the process metrics only); only to measure what they cost. */
  metrics?: boolean;
  /** TLS on the REST and gRPC listeners (unset: plaintext). */
  tls?: ServingTls | undefined;
  /** TLS to the shards (unset: plaintext). */
  shardTls?: DialTls | undefined;
  /** One API key per line; set: every query needs `Bearer KEY` (auth.ts). */
  apiKeysFile?: string | undefined;
  /** Per-key requests/s and rows/s (key-quota.ts); needs apiKeysFile. */
  keyRateLimit?: KeyRateLimit | undefined;
  /** /metrics needs a key too. */
  metricsAuth?: boolean | undefined;
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
  registry: Registry;
  labels: Labels | null;
  stats: FanOutStats;
  distributionStats: DistributionStats;
  stop(): Promise<void>;
}

export async function runGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const labels = config.labels === undefined ? null : await loadLabels(config.labels);
  const security = openSecurity(config, log);
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
    channel: security.channel,
    shardTransport: config.shardTransport,
  });
  const registry = config.registry ?? createRegistry();
  const tracing = createTracing(config.otlpEndpoint, "shardmax-gateway");
  const metrics = config.metrics === false ? noGatewayMetrics : gatewayMetrics(registry);
  metrics.watch(() => topologyGauges(shardSet.topology));
  // Concurrent queries share one Partial per range (coalescer.ts).
  const ranges = new FanOut(shardSet, {
    log: log.child("fanout"),
    exposeTopology: config.exposeTopology,
    metrics,
    tracer: tracing.tracer,
    hedgeAfter: config.hedgeAfter,
  });
  const fanOut = new CoalescingFanOut(ranges, { ...COALESCER_DEFAULTS, lingerUs: config.lingerUs, observer: metrics.coalesce });
  // At most two worst-case answers are built at once: what the memory arithmetic in the README assumes.
  const admission = new RowAdmission(config.maxInflightRows, 2 * config.limits.maxResponseBytes);
  const base = { shardSet, fanOut, limits: config.limits, deadlineMs: config.deadlineMs, labels, admission, exposeTopology: config.exposeTopology };
  const distribution = new DistributionService(base, config.maxDistributionValues);
  const core = new GatewayCore({ ...base, distribution, metrics, log: log.child("requests"), slowQueryMs: config.slowQueryMs ?? Infinity, tracing });
  await shardSet.start();
  // Shards already serving another V: refuse now, with one line, rather than serve misread labels.
  const mislabeled = labelProblem(labels, shardSet.topology.model);
  if (mislabeled) {
    shardSet.close();
    security.close();
    throw new ShardmaxError("MODEL_MISMATCH", mislabeled);
  }
  let lastProblem: string | null = null;
  shardSet.onChange((topology) => {
    const problem = labelProblem(labels, topology.model);
    if (problem && problem !== lastProblem) log.warn("not serving", { reason: problem });
    lastProblem = problem;
  });

  const app = buildApp({
    core,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    log,
    registry,
    tls: security.rest,
    auth: security.auth,
    ...(config.modelName ? { modelName: config.modelName } : {}),
  });
  app.server.maxConnections = config.maxConnections;
  const { host, port } = splitHostPort(config.http);
  await app.listen({ host, port });
  const httpPort = (app.server.address() as { port: number }).port;

  // The Softmax door takes what the REST door takes, and answers at most what an answer may cost.
  const inference = inferenceModule({ core, modelName: config.modelName ?? DEFAULT_MODEL_NAME });
  const grpcServer = new SoftmaxServer({
    core,
    maxReceiveBytes: config.bodyLimitBytes,
    maxSendBytes: config.limits.maxResponseBytes,
    log,
    services: [inference],
    tls: config.tls,
    auth: security.auth,
  });
  const grpcPort = await grpcServer.listen(config.grpc);
  log.info("gateway listening", { http: `${host}:${httpPort}`, grpc: `${splitHostPort(config.grpc).host}:${grpcPort}`, shards: config.shards.join(",") });

  return {
    httpPort,
    grpcPort,
    shardSet,
    core,
    registry,
    labels,
    stats: fanOut.stats,
    distributionStats: distribution.stats,
    async stop() {
      log.info("draining", { drainMs: config.drainMs });
      grpcServer.setServing(false);
      await Promise.all([closeWithin(app, config.drainMs), grpcServer.shutdown(config.drainMs)]);
      shardSet.close();
      await tracing.shutdown();
      security.close();
      log.info("stopped", {
        partialAttempts: fanOut.stats.attempts,
        retries: fanOut.stats.retries,
        hedges: fanOut.stats.hedges,
        reruns: fanOut.stats.reruns,
        unanswered: fanOut.stats.unanswered,
      });
    },
  };
}

/** The gateway's TLS material and API keys, opened (and checked) before anything listens. */
function openSecurity(config: GatewayConfig, log: Logger) {
  const channel = channelCredentials(config.shardTls, log.child("shard-tls"));
  const tls = config.tls;
  const rest = tls
    ? {
        files: new PemFiles({ cert: tls.certFile, key: tls.keyFile, ca: tls.clientCaFile }, log.child("tls")),
        requireClientCert: tls.clientCaFile !== undefined,
      }
    : undefined;
  const quota = config.keyRateLimit ? new KeyQuota(config.keyRateLimit, realClock) : null;
  const auth = config.apiKeysFile
    ? new Gatekeeper({ keys: new ApiKeys(config.apiKeysFile, log.child("auth")), quota, metricsAuth: config.metricsAuth ?? false })
    : undefined;
  return {
    channel,
    rest,
    auth,
    close() {
      channel.close();
      rest?.files.close();
      auth?.close();
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

/** What the range and model gauges show: the ranges of the head in view and how many have a healthy replica. */
function topologyGauges(topology: Topology): TopologyGauges {
  const healthyRanges = topology.ranges.filter((r) => r.replicas.some((replica) => replica.healthy)).length;
  return { ranges: topology.ranges.length, healthyRanges, model: topology.model };
}
