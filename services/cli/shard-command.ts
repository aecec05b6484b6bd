/**
 * `shardmax shard`: serve one class range of a head over gRPC until SIGTERM,
 * then drain. With the hidden `--events` switch (used by `shardmax local`) it
 * also reports its port, loading progress and readiness as JSON lines on
 * stdout, and stops when its parent's stdin pipe closes, so a child never
 * outlives a parent that died without cleaning up.
 */
/** A shard takes no message larger than its largest legitimate Partial, and at least this. */
const SHARD_MESSAGE_FLOOR_BYTES = 4 * 1024 * 1024;

import type { RangeSpec, ShardConfig } from "../shard/main.js";
import { type CliContext, type Command, CommandFailure, parseOrHelp } from "./command.js";
import { encodeEvent, type ShardEvent } from "./events.js";
import { envName, flag, type Parsed, UsageError } from "./flags.js";
import { loggerFrom, OBSERVABILITY_FLAGS } from "./observability-flags.js";
import { waitForStop } from "./signals.js";
import { SERVING_TLS_FLAGS, servingTls } from "./tls-flags.js";
import { classRange, hostPort, integer, nonEmpty, shardSplit } from "./values.js";

const ONE_OF = "exactly one of --shard, --range, --ranges";
const RANGE_FLAGS = ["shard", "range", "ranges"] as const;
/** Chosen by measurement: see bench/REPORT.md ("Choosing the batching defaults"). */
export const SHARD_BATCH_DEFAULTS = { maxBatchRows: "auto", maxQueueDelayUs: 0, maxQueueRows: 8192 } as const;

/** The most rows `auto` can choose (see autoMaxBatchRows). */
const AUTO_BATCH_ROWS_CAP = 128;

function batchRows(raw: string): number | "auto" {
  return raw.trim() === "auto" ? "auto" : integer(1, 65536)(raw);
}

export const SHARD_FLAGS = {
  weights: flag.required({
    metavar: "PATH",
    help: "the head: a .safetensors file, a Hugging Face checkpoint folder, a .npy file, or builtin:default / builtin:VxD",
    parse: nonEmpty("a file or folder path, or builtin:default"),
  }),
  tensor: flag.optional({ metavar: "NAME", help: "weight tensor in the checkpoint (unset: lm_head.weight)", parse: nonEmpty("a tensor name") }),
  bias: flag.optional({
    metavar: "NAME|FILE",
    help: "bias tensor in the checkpoint, or the bias .npy of a .npy head; must exist when given (unset: <tensor>.bias or final_logits_bias when present)",
    parse: nonEmpty("a tensor name or file"),
  }),
  shard: flag.optional({ metavar: "I/N", help: "serve split I of N equal class ranges, 0 ≤ I < N", parse: shardSplit, note: ONE_OF }),
  range: flag.optional({ metavar: "START:END", help: "serve the class range [START, END)", parse: classRange, note: ONE_OF }),
  ranges: flag.optional({
    metavar: "N",
    help: "serve split (pod index mod N) of N equal class ranges: in a StatefulSet of N×R pods, pods I, I+N, I+2N … are the replicas of range I",
    parse: integer(1),
    note: ONE_OF,
  }),
  "pod-index": flag.optional({
    metavar: "I",
    help: "this pod's ordinal, for --ranges (Kubernetes: the apps.kubernetes.io/pod-index label, via the downward API)",
    parse: integer(0),
  }),
  listen: flag.withDefault({ metavar: "HOST:PORT", help: "gRPC listen address; port 0 picks a free port", parse: hostPort, default: "127.0.0.1:50051" }),
  threads: flag.withDefault({ metavar: "N", help: "onnxruntime intra-op threads; 0 lets onnxruntime decide", parse: integer(0, 1024), default: 0 }),
  "block-rows": flag.optional({
    metavar: "N",
    help: "rows per onnxruntime block (unset: about 1/8 of the slice, 32 MiB to 1 GiB of weights)",
    parse: integer(1),
  }),
  "max-rows": flag.withDefault({ metavar: "N", help: "most rows in one Partial request", parse: integer(1), default: 4096 }),
  "max-top-k": flag.withDefault({ metavar: "N", help: "largest top-k a request may ask for", parse: integer(1), default: 1000 }),
  "max-batch-rows": flag.withDefault<number | "auto">({
    metavar: "N|auto",
    help: "most rows in one onnxruntime run; auto: what keeps a [rows, classes] float32 tensor within 128 MiB, 8 to 128",
    parse: batchRows,
    default: SHARD_BATCH_DEFAULTS.maxBatchRows,
  }),
  "max-queue-delay-us": flag.withDefault({
    metavar: "N",
    help: "after a run, how long the next may wait for as many calls as it answered, in µs (Node timers: 1 ms steps; 0: never wait)",
    parse: integer(0, 10_000_000),
    default: SHARD_BATCH_DEFAULTS.maxQueueDelayUs,
  }),
  "max-queue-rows": flag.withDefault({
    metavar: "N",
    help: "rows that may wait for a run; beyond, requests get RESOURCE_EXHAUSTED; at least --max-rows",
    parse: integer(1),
    default: SHARD_BATCH_DEFAULTS.maxQueueRows,
  }),
  "expose-topology": flag.switch({ help: "say where the weights came from (their path) in Info, for operators" }),
  "metrics-listen": flag.optional({
    metavar: "HOST:PORT",
    help: "serve Prometheus metrics at GET /metrics on this HTTP address (port 0 picks a free port); unset: no metrics listener",
    parse: hostPort,
  }),
  "drain-ms": flag.withDefault({
    metavar: "N",
    help: "on SIGTERM, how long in-flight calls may finish before the server closes",
    parse: integer(0),
    default: 10000,
  }),
  ...OBSERVABILITY_FLAGS,
  ...SERVING_TLS_FLAGS,
  "health-listen": flag.optional({
    metavar: "HOST:PORT",
    help: "also serve grpc.health.v1 alone, in plaintext, here (kubelet gRPC probes cannot do mutual TLS)",
    parse: hostPort,
  }),
  events: flag.switch({ hidden: true, help: "report port, progress and readiness as JSON lines on stdout (for shardmax local)" }),
};

const HELP = {
  usage: "shardmax shard --weights PATH (--shard I/N | --range START:END | --ranges N --pod-index I) [flags]",
  summary: "Serve one class range of a head over gRPC (shardmax.v1.Shard and grpc.health.v1.Health).",
};

export const shardCommand: Command = {
  name: "shard",
  summary: "serve one class range of a head over gRPC",
  async run(argv, context) {
    const parsed = parseOrHelp(SHARD_FLAGS, HELP, argv, context);
    if (!parsed) return 0;
    const config = shardConfig(parsed);
    return serve(config, parsed.values.events, context, parsed.values);
  },
};

export function shardConfig(parsed: Parsed<typeof SHARD_FLAGS>): Readonly<ShardConfig> {
  const v = parsed.values;
  const batchRowsCap = v["max-batch-rows"] === "auto" ? AUTO_BATCH_ROWS_CAP : v["max-batch-rows"];
  if (v["max-queue-rows"] < Math.max(v["max-rows"], batchRowsCap)) {
    throw new UsageError(
      `--max-queue-rows ${v["max-queue-rows"]} must be at least --max-rows (${v["max-rows"]}) and --max-batch-rows (${v["max-batch-rows"]}), or the largest request could never be queued`,
    );
  }
  return Object.freeze({
    weights: v.weights,
    tensor: v.tensor,
    bias: v.bias,
    range: Object.freeze(chooseRange(parsed)),
    listen: v.listen,
    threads: v.threads,
    blockRows: v["block-rows"],
    maxRows: v["max-rows"],
    maxTopK: v["max-top-k"],
    // Raised to what --max-rows × d needs once the head is known (services/shard/main.ts).
    maxMessageBytes: SHARD_MESSAGE_FLOOR_BYTES,
    drainMs: v["drain-ms"],
    maxBatchRows: v["max-batch-rows"],
    maxQueueDelayUs: v["max-queue-delay-us"],
    maxQueueRows: v["max-queue-rows"],
    exposeTopology: v["expose-topology"],
    ...(v["metrics-listen"] === undefined ? {} : { metricsListen: v["metrics-listen"] }),
    ...(v["otlp-endpoint"] === undefined ? {} : { otlpEndpoint: v["otlp-endpoint"] }),
    tls: servingTls(v),
    healthListen: v["health-listen"],
  });
}

/** Exactly one of --shard / --range / --ranges; a flag beats the others' environment variables. */
function chooseRange(parsed: Parsed<typeof SHARD_FLAGS>): RangeSpec {
  const { values, sources } = parsed;
  const given = RANGE_FLAGS.filter((name) => values[name] !== undefined);
  const onCommandLine = given.filter((name) => sources[name] === "flag");
  const chosen = onCommandLine.length > 0 ? onCommandLine : given;
  if (chosen.length > 1) {
    const names = chosen.map((name) => (sources[name] === "env" ? envName(name) : `--${name}`));
    throw new UsageError(`${names.join(" and ")} ${names.length === 2 ? "both" : "all"} choose the class range; give only one`);
  }
  const name = chosen[0];
  if (name === undefined) {
    const envs = RANGE_FLAGS.map(envName).join(" / ");
    throw new UsageError(`missing --shard I/N, --range START:END or --ranges N (or set ${envs})`);
  }
  // SHARDMAX_POD_INDEX is set in every pod and may go unused; a --pod-index typed by hand must not be.
  if (name !== "ranges" && sources["pod-index"] === "flag") throw new UsageError("--pod-index only goes with --ranges N");
  if (name === "shard") return values.shard!;
  if (name === "range") return values.range!;
  return podSplit(values.ranges!, values["pod-index"]);
}

/** Range (ordinal mod N) of N: more pods than ranges are simply more replicas. */
function podSplit(count: number, podIndex: number | undefined): RangeSpec {
  if (podIndex === undefined) {
    throw new UsageError(
      `--ranges ${count} needs this pod's ordinal: --pod-index I or ${envName("pod-index")} (in Kubernetes, the apps.kubernetes.io/pod-index label through the downward API)`,
    );
  }
  return { kind: "split", index: podIndex % count, count };
}

async function serve(config: Readonly<ShardConfig>, events: boolean, context: CliContext, logFlags: Parameters<typeof loggerFrom>[0]): Promise<number> {
  const emit = (event: ShardEvent) => events && process.stdout.write(encodeEvent(event));
  const spec = config.range.kind === "split" ? `${config.range.index}/${config.range.count}` : `${config.range.start}:${config.range.end}`;
  const log = loggerFrom(logFlags, `shard[${spec}]`, context.err);
  // Imported here, not at the top: `--help` and flag errors should not load onnxruntime.
  const { runShard } = await import("../shard/main.js");
  const stopped = waitForStop({
    ignoreInterrupt: events,
    alsoOn: events ? [parentGone()] : [],
    onForce: (signal) => context.err(`shardmax: second ${signal}, exiting without draining`),
  });

  const running = await runShard(config, log, events ? (percent) => emit({ event: "loading", percent }) : undefined).catch((err: unknown) => {
    emit({ event: "failed", message: messageOf(err) });
    throw err;
  });
  const metricsPort = running.metricsPort ?? undefined;
  emit({
    event: "listening",
    port: running.port,
    rangeStart: running.range.start,
    rangeEnd: running.range.end,
    pid: process.pid,
    ...(metricsPort ? { metricsPort } : {}),
  });

  const loaded = running.ready.then(
    () => "ready" as const,
    (err: unknown) => err,
  );
  const first = await Promise.race([loaded, stopped.then(() => "stop" as const)]);
  if (first !== "ready" && first !== "stop") {
    emit({ event: "failed", message: messageOf(first) });
    throw new CommandFailure(`shard ${running.range}: loading failed: ${messageOf(first)}`);
  }
  if (first === "ready") {
    emit({ event: "ready" });
    await stopped;
  }
  log.info("stopping", { drainMs: config.drainMs });
  await running.stop();
  log.info("stopped");
  return 0;
}

/** Resolves when stdin reaches end of file: the `local` parent has gone away. */
function parentGone(): Promise<string> {
  return new Promise((resolve) => {
    process.stdin.once("end", () => resolve("parent gone"));
    process.stdin.once("error", () => resolve("parent gone"));
    process.stdin.resume();
  });
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
