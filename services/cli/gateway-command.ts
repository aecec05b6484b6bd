/**
 * `shardmax gateway`: merge shards (a fixed list, or every address of a DNS
 * name) into exact softmax answers, served over REST and gRPC, until SIGTERM;
 * then drain.
 */
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../shared/grpc/proto.js";
import { type KeyRateLimit, parseKeyRateLimit } from "../gateway/key-quota.js";
import { parseHedgeAfter } from "../gateway/latency-quantile.js";
import type { GatewayConfig } from "../gateway/main.js";
import type { ShardTransport } from "../gateway/shard-client.js";
import { MAX_DRAWS_PER_ROW } from "../shard/partial-request.js";
import { type Command, parseOrHelp } from "./command.js";
import { flag, UsageError, ValueError } from "./flags.js";
import { loggerFrom, OBSERVABILITY_FLAGS } from "./observability-flags.js";
import { waitForStop } from "./signals.js";
import { dialTls, readableFile, SERVING_TLS_FLAGS, SHARD_TLS_FLAGS, servingTls } from "./tls-flags.js";
import { hostPort, integer, modelName, nonEmpty, oneOf, shardAddressList } from "./values.js";

/** Serving defaults, shared with `shardmax local`, which exposes only the addresses. */
export const GATEWAY_DEFAULTS = {
  http: "127.0.0.1:8080",
  grpc: "127.0.0.1:50050",
  deadlineMs: 10000,
  refreshMs: 1000,
  resolveIntervalMs: 5000,
  bodyLimitBytes: 16 * 1024 * 1024,
  maxRows: 1024,
  maxTopK: 1000,
  maxTargets: 10000,
  maxDraws: 64,
  drainMs: 10000,
  lingerUs: 20000,
  maxResponseBytes: 16 * 1024 * 1024,
  maxInflightRows: 4096,
  requestTimeoutMs: 30000,
  keepAliveTimeoutMs: 5000,
  maxConnections: 1024,
  maxDistributionValues: 16 * 1024 * 1024,
  modelName: "shardmax",
  slowQueryMs: 1000,
} as const;

const D = GATEWAY_DEFAULTS;

type Security = Pick<GatewayConfig, "tls" | "shardTls" | "apiKeysFile" | "keyRateLimit" | "metricsAuth">;

export const GATEWAY_FLAGS = {
  shards: flag.required({
    metavar: "HOST:PORT[,…] | dns:NAME:PORT",
    help: "shard addresses; dns:NAME:PORT means every address NAME resolves to (a headless Service); several for one range are replicas",
    parse: shardAddressList,
  }),
  http: flag.withDefault({ metavar: "HOST:PORT", help: "REST listen address; port 0 picks a free port", parse: hostPort, default: D.http }),
  grpc: flag.withDefault({
    metavar: "HOST:PORT",
    help: "gRPC (shardmax.v1.Softmax) listen address; port 0 picks a free port",
    parse: hostPort,
    default: D.grpc,
  }),
  "deadline-ms": flag.withDefault({ metavar: "N", help: "deadline of one query across all shards", parse: integer(1), default: D.deadlineMs }),
  "refresh-ms": flag.withDefault({ metavar: "N", help: "interval between Info checks of every shard", parse: integer(1), default: D.refreshMs }),
  "resolve-interval-ms": flag.withDefault({
    metavar: "N",
    help: "how often dns: shard names are looked up again",
    parse: integer(1),
    default: D.resolveIntervalMs,
  }),
  "hosts-file": flag.optional({
    metavar: "FILE",
    hidden: true,
    help: "resolve dns: names from this hosts-format file instead of DNS (tests only)",
    parse: nonEmpty("a file path"),
  }),
  "body-limit-bytes": flag.withDefault({
    metavar: "N",
    help: "largest REST request body",
    parse: integer(1),
    default: D.bodyLimitBytes,
    defaultText: `${D.bodyLimitBytes} (16 MiB)`,
  }),
  "max-rows": flag.withDefault({ metavar: "N", help: "most hidden rows in one query", parse: integer(1), default: D.maxRows }),
  "max-top-k": flag.withDefault({ metavar: "N", help: "largest topK a query may ask for", parse: integer(1), default: D.maxTopK }),
  "max-targets": flag.withDefault({ metavar: "N", help: "most target ids per row", parse: integer(0), default: D.maxTargets }),
  "max-draws": flag.withDefault({ metavar: "N", help: "most sampled draws per row (sample.n)", parse: integer(1, MAX_DRAWS_PER_ROW), default: D.maxDraws }),
  "drain-ms": flag.withDefault({ metavar: "N", help: "on SIGTERM, how long in-flight queries may finish", parse: integer(0), default: D.drainMs }),
  "linger-us": flag.withDefault({
    metavar: "N",
    help: "after a batch of queries is answered, how long the next batch may wait for those callers' next queries (0: never wait)",
    parse: integer(0, 10_000_000),
    default: D.lingerUs,
  }),
  "max-response-bytes": flag.withDefault({
    metavar: "N",
    help: "largest answer one query may build (JSON estimate: rows × (topK + targets) × ~110 bytes + labels); larger queries get 413",
    parse: integer(1024),
    default: D.maxResponseBytes,
    defaultText: `${D.maxResponseBytes} (16 MiB)`,
  }),
  "max-distribution-values": flag.withDefault({
    metavar: "N",
    help: "most rows × V log-probs one /v1/distribution request may ask for (4 bytes each as octet-stream); larger requests get 413",
    parse: integer(1),
    default: D.maxDistributionValues,
    defaultText: `${D.maxDistributionValues} (2^24: 64 MiB of float32)`,
  }),
  "max-inflight-rows": flag.withDefault({
    metavar: "N",
    help: "most rows held at once over all queries; past it queries get 503 + Retry-After",
    parse: integer(1),
    default: D.maxInflightRows,
  }),
  "request-timeout-ms": flag.withDefault({
    metavar: "N",
    help: "a REST request's headers and body must arrive within this (slow clients are cut)",
    parse: integer(1),
    default: D.requestTimeoutMs,
  }),
  "keep-alive-timeout-ms": flag.withDefault({
    metavar: "N",
    help: "an idle keep-alive REST connection is closed after this",
    parse: integer(1),
    default: D.keepAliveTimeoutMs,
  }),
  "max-connections": flag.withDefault({ metavar: "N", help: "most open REST connections; more are refused", parse: integer(1), default: D.maxConnections }),
  "expose-topology": flag.switch({ help: "show shard addresses and socket errors in /v1/model, Info and error messages (for operators)" }),
  "hedge-after": flag.withDefault({
    metavar: "off|pNN",
    help: "send a range's Partial to a second replica too when the first has not answered after this quantile of the range's recent latency (e.g. p95); first answer wins",
    parse: hedgeAfter,
    default: null,
    defaultText: "off",
  }),
  "shard-transport": flag.withDefault({
    metavar: "stream|unary",
    help: "how Partials travel to the shards: many on one long-lived Shard.PartialStream per shard (stream), or one unary call each",
    parse: oneOf<ShardTransport>(["stream", "unary"]),
    default: "stream" as ShardTransport,
  }),
  labels: flag.optional({
    metavar: "FILE",
    help: "labels for results: a text file (line i is class i) or a tokenizer.json (or its folder)",
    parse: nonEmpty("a file path"),
  }),
  "model-name": flag.withDefault({
    metavar: "NAME",
    help: "the model's name on the Open Inference Protocol (REST /v2, gRPC inference)",
    parse: modelName,
    default: D.modelName,
  }),
  "no-metrics": flag.switch({ hidden: true, help: "record no request metrics (to measure what they cost; the bench)" }),
  "slow-query-ms": flag.withDefault({
    metavar: "N",
    help: "log a warning line for each request that took longer than this (0: every request)",
    parse: integer(0),
    default: D.slowQueryMs,
  }),
  ...OBSERVABILITY_FLAGS,
  ...SERVING_TLS_FLAGS,
  ...SHARD_TLS_FLAGS,
  "api-keys": flag.optional({
    metavar: "FILE",
    env: "SHARDMAX_API_KEYS_FILE",
    help: "API keys, one per line (re-read on change): REST needs Authorization: Bearer KEY, gRPC authorization metadata; probes stay open",
    parse: readableFile,
  }),
  "key-rate-limit": flag.optional({
    metavar: "Nr,Mrows",
    help: "per-key quota with --api-keys: requests/s and/or rows/s, e.g. 100r,5000rows; over it: 429 + Retry-After",
    parse: keyRateLimit,
  }),
  "metrics-auth": flag.switch({ help: "with --api-keys, /metrics needs a key too" }),
};

function keyRateLimit(raw: string): KeyRateLimit {
  try {
    return parseKeyRateLimit(raw);
  } catch (err) {
    throw new ValueError((err as Error).message);
  }
}

function hedgeAfter(raw: string): number | null {
  try {
    return parseHedgeAfter(raw);
  } catch (err) {
    throw new ValueError((err as Error).message);
  }
}

const HELP = {
  usage: "shardmax gateway --shards (HOST:PORT[,HOST:PORT…] | dns:NAME:PORT) [flags]",
  summary: "Fan queries out to the shards and merge their partials into exact softmax results, over REST and gRPC.",
};

export const gatewayCommand: Command = {
  name: "gateway",
  summary: "merge shards into exact softmax answers over REST and gRPC",
  async run(argv, context) {
    const parsed = parseOrHelp(GATEWAY_FLAGS, HELP, argv, context);
    if (!parsed) return 0;
    const v = parsed.values;
    const config = gatewayConfig({
      shards: v.shards,
      http: v.http,
      grpc: v.grpc,
      deadlineMs: v["deadline-ms"],
      refreshMs: v["refresh-ms"],
      resolveIntervalMs: v["resolve-interval-ms"],
      hostsFile: v["hosts-file"],
      bodyLimitBytes: v["body-limit-bytes"],
      maxRows: v["max-rows"],
      maxTopK: v["max-top-k"],
      maxTargets: v["max-targets"],
      maxDraws: v["max-draws"],
      drainMs: v["drain-ms"],
      lingerUs: v["linger-us"],
      maxResponseBytes: v["max-response-bytes"],
      maxInflightRows: v["max-inflight-rows"],
      requestTimeoutMs: v["request-timeout-ms"],
      keepAliveTimeoutMs: v["keep-alive-timeout-ms"],
      maxConnections: v["max-connections"],
      maxDistributionValues: v["max-distribution-values"],
      exposeTopology: v["expose-topology"],
      hedgeAfter: v["hedge-after"],
      shardTransport: v["shard-transport"],
      labels: v.labels,
      modelName: v["model-name"],
      slowQueryMs: v["slow-query-ms"],
      otlpEndpoint: v["otlp-endpoint"],
      metrics: !v["no-metrics"],
      tls: servingTls(v),
      shardTls: dialTls(v),
      apiKeysFile: v["api-keys"],
      keyRateLimit: v["key-rate-limit"],
      metricsAuth: v["metrics-auth"],
    });
    if (config.keyRateLimit && !config.apiKeysFile) throw new UsageError("--key-rate-limit needs --api-keys (quotas are per key)");
    const stopped = waitForStop({ onForce: (signal) => context.err(`shardmax: second ${signal}, exiting without draining`) });
    // Imported here so `--help` and flag errors do not load fastify and gRPC.
    const { runGateway } = await import("../gateway/main.js");
    const gateway = await runGateway(config, loggerFrom(v, "gateway", context.err));
    await stopped;
    await gateway.stop();
    return 0;
  },
};

type GatewaySettings = {
  shards: string[];
  labels?: string | undefined;
  hostsFile?: string;
  exposeTopology: boolean;
  otlpEndpoint?: string | undefined;
  metrics?: boolean;
  hedgeAfter?: number | null;
  shardTransport?: ShardTransport;
} & Security & { -readonly [K in keyof typeof GATEWAY_DEFAULTS]: (typeof GATEWAY_DEFAULTS)[K] extends string ? string : number };

export function gatewayConfig(s: GatewaySettings): Readonly<GatewayConfig> {
  return Object.freeze({
    shards: Object.freeze([...s.shards]) as string[],
    http: s.http,
    grpc: s.grpc,
    deadlineMs: s.deadlineMs,
    refreshMs: s.refreshMs,
    resolveIntervalMs: s.resolveIntervalMs,
    ...(s.hostsFile === undefined ? {} : { hostsFile: s.hostsFile }),
    bodyLimitBytes: s.bodyLimitBytes,
    // Partials are ~13× smaller than the JSON answers they make; a coalesced batch holds several queries' worth.
    maxMessageBytes: Math.max(DEFAULT_MAX_MESSAGE_BYTES, 4 * s.maxResponseBytes),
    limits: Object.freeze({
      maxRows: s.maxRows,
      maxTopK: s.maxTopK,
      maxTargetsPerRow: s.maxTargets,
      maxResponseBytes: s.maxResponseBytes,
      maxDraws: s.maxDraws,
    }),
    maxInflightRows: s.maxInflightRows,
    requestTimeoutMs: s.requestTimeoutMs,
    keepAliveTimeoutMs: s.keepAliveTimeoutMs,
    maxConnections: s.maxConnections,
    maxDistributionValues: s.maxDistributionValues,
    exposeTopology: s.exposeTopology,
    hedgeAfter: s.hedgeAfter ?? null,
    shardTransport: s.shardTransport ?? "stream",
    drainMs: s.drainMs,
    lingerUs: s.lingerUs,
    modelName: s.modelName,
    ...(s.labels === undefined ? {} : { labels: s.labels }),
    slowQueryMs: s.slowQueryMs,
    ...(s.metrics === false ? { metrics: false } : {}),
    ...(s.otlpEndpoint === undefined ? {} : { otlpEndpoint: s.otlpEndpoint }),
    tls: s.tls,
    shardTls: s.shardTls,
    apiKeysFile: s.apiKeysFile,
    keyRateLimit: s.keyRateLimit,
    metricsAuth: s.metricsAuth,
  });
}
