/**
 * `shardmax local`: the one-command cluster. N shard child processes on
 * loopback (each binds port 0 and reports its port over the `--events`
 * channel), the gateway in this process pointed at them, progress while the
 * shards load, then a request to paste. Ctrl-C or SIGTERM stops the gateway
 * and every child; a child that dies during startup fails the whole command
 * with its stderr tail. Once serving, a child that dies is restarted on the
 * same range and port (supervise), with a back-off; meanwhile the gateway
 * answers 503 naming its range. Only a child that keeps failing to start
 * again stops the cluster.
 *
 * Logs: until the cluster is ready, children's stderr and the gateway's log
 * are held back (stdout shows the progress instead; a failing child's tail is
 * printed); once ready, both go to stderr as they come.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { BUILTIN_DEFAULT_SPEC } from "../../shared/checkpoint/builtin-head.js";
import { createLogger } from "../../shared/log.js";
import type { RunningGateway } from "../gateway/main.js";
import type { ModelRef } from "../gateway/topology.js";
import { type CliContext, type Command, CommandFailure, parseOrHelp } from "./command.js";
import { type FlagValues, flag } from "./flags.js";
import { GATEWAY_DEFAULTS, gatewayConfig } from "./gateway-command.js";
import { connectAddress, curlExample, curlTlsFlags, formatSeconds, ProgressLines } from "./local-report.js";
import { ChildExited, describeExit, ShardChild } from "./shard-child.js";
import { waitForStop } from "./signals.js";
import { type CertFiles, makeThrowawayCerts } from "./throwaway-certs.js";
import { hostPort, integer, modelName, nonEmpty } from "./values.js";

export const LOCAL_FLAGS = {
  weights: flag.withDefault({
    metavar: "PATH",
    help: "the head: a .safetensors file, a Hugging Face checkpoint folder, a .npy file, or builtin:default / builtin:VxD",
    parse: nonEmpty("a file or folder path, or builtin:default"),
    default: BUILTIN_DEFAULT_SPEC,
  }),
  tensor: flag.optional({ metavar: "NAME", help: "weight tensor in the checkpoint (unset: lm_head.weight)", parse: nonEmpty("a tensor name") }),
  bias: flag.optional({
    metavar: "NAME|FILE",
    help: "bias tensor in the checkpoint, or the bias .npy of a .npy head; must exist when given",
    parse: nonEmpty("a tensor name or file"),
  }),
  labels: flag.optional({
    metavar: "FILE",
    help: "labels for results: a text file (line i is class i) or a tokenizer.json (or its folder)",
    parse: nonEmpty("a file path"),
  }),
  shards: flag.withDefault({ metavar: "N", help: "number of shard processes, each serving an equal class range", parse: integer(1, 64), default: 2 }),
  http: flag.withDefault({
    metavar: "HOST:PORT",
    help: "gateway REST listen address; port 0 picks a free port",
    parse: hostPort,
    default: GATEWAY_DEFAULTS.http,
  }),
  grpc: flag.withDefault({
    metavar: "HOST:PORT",
    help: "gateway gRPC listen address; port 0 picks a free port",
    parse: hostPort,
    default: GATEWAY_DEFAULTS.grpc,
  }),
  "model-name": flag.withDefault({
    metavar: "NAME",
    help: "the model's name on the Open Inference Protocol (REST /v2, gRPC inference)",
    parse: modelName,
    default: GATEWAY_DEFAULTS.modelName,
  }),
  tls: flag.switch({
    help: "make a throw-away CA and certificates (openssl) in a temporary folder and run everything over mutual TLS; prints a curl line with them",
  }),
  threads: flag.withDefault<number | undefined>({
    metavar: "N",
    help: "onnxruntime threads per shard; 0 lets onnxruntime decide",
    parse: integer(0, 1024),
    default: undefined,
    defaultText: "CPU cores ÷ shards, at least 1",
  }),
};

const HELP = {
  usage: "shardmax local [flags]",
  summary: "Start N shard processes and a gateway on this machine, wait until they serve, and print a request to try.",
};

/** Children drain this long on SIGTERM; past CHILD_GRACE_MS they are killed. */
const CHILD_DRAIN_MS = 2000;
const CHILD_GRACE_MS = 5000;
const GATEWAY_DRAIN_MS = 2000;
const GATEWAY_READY_TIMEOUT_MS = 30000;
/** A dead shard is restarted after `first` ms, doubling to `max` while it keeps dying; `resetAfter` ms of serving starts over. */
const RESTART_BACKOFF_MS = { first: 500, max: 10_000, resetAfter: 60_000 };
/** Restarts in a row that never became ready before `local` gives up (a broken checkpoint, a port taken). */
const RESTART_ATTEMPTS = 5;

class StopRequested extends Error {}

export const localCommand: Command = {
  name: "local",
  summary: "start N shards and a gateway on loopback: the one-command cluster",
  async run(argv, context) {
    const parsed = parseOrHelp(LOCAL_FLAGS, HELP, argv, context);
    return parsed ? runLocal(parsed.values, context) : 0;
  },
};

async function runLocal(v: FlagValues<typeof LOCAL_FLAGS>, context: CliContext): Promise<number> {
  const started = Date.now();
  const { out, err } = context;
  let live = false; // logs held back until the cluster is ready
  const progress = new ProgressLines(out);
  const threads = v.threads ?? Math.max(1, Math.floor(availableParallelism() / v.shards));
  const tls = v.tls ? throwawayTls() : null;
  const children = Array.from({ length: v.shards }, (_, index) => spawnShard(index, v, threads, context, progress, (line) => live && err(line), tls));
  process.on("exit", () => {
    children.forEach((c) => c.killNow());
    tls?.remove();
  });

  const stopped = waitForStop({ onForce: () => children.forEach((c) => c.killNow()) });
  const interrupted = Promise.race([stopped, ...children.map((c) => c.exited.then((exit) => Promise.reject(new ChildExited(c, exit))))]);
  interrupted.catch(() => {});
  const step = <T>(work: Promise<T>) => Promise.race([work, interrupted.then((signal) => Promise.reject(new StopRequested(signal)))]);

  let gatewayStarting: Promise<RunningGateway> | null = null;
  let ports: number[] = [];
  let stopping = false;
  void stopped.then(() => (stopping = true));
  /**
   * Restarts child `index` whenever it dies, on its own port so the gateway finds it again at the same
   * address. Resolves (with exit code 1) only when it failed to start RESTART_ATTEMPTS times in a row.
   */
  const supervise = async (index: number): Promise<number> => {
    let backoffMs = RESTART_BACKOFF_MS.first;
    let failuresInARow = 0;
    for (;;) {
      const child = children[index]!;
      const exit = await child.exited;
      if (stopping) return new Promise<number>(() => {});
      err(
        `shardmax: shard ${child.label} (pid ${child.pid ?? "?"}) exited ${describeExit(exit)}${child.failure ? `: ${child.failure}` : ""}; restarting in ${backoffMs} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      if (stopping) return new Promise<number>(() => {});
      const next = spawnShard(index, v, threads, context, progress, (line) => live && err(line), tls, `127.0.0.1:${ports[index]}`);
      children[index] = next;
      const readyAt = await next.ready.then(
        () => Date.now(),
        () => null,
      );
      if (readyAt === null) {
        failuresInARow++;
        if (failuresInARow >= RESTART_ATTEMPTS) {
          err(`shardmax: shard ${next.label} failed to start ${failuresInARow} times in a row; stopping`);
          next.stderrTail().forEach((line) => err(`  | ${line}`));
          return 1;
        }
        backoffMs = Math.min(RESTART_BACKOFF_MS.max, backoffMs * 2);
        continue;
      }
      out(`  shard ${next.label} restarted (pid ${next.pid ?? "?"}) and ready`);
      failuresInARow = 0;
      // A child that served a while before dying starts the back-off over; one that dies again at once doubles it.
      const served = await Promise.race([
        next.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), RESTART_BACKOFF_MS.resetAfter).unref()),
      ]);
      backoffMs = served ? RESTART_BACKOFF_MS.first : Math.min(RESTART_BACKOFF_MS.max, backoffMs * 2);
    }
  };
  const shutdown = async () => {
    out(`stopping the gateway and ${children.length} shard${children.length === 1 ? "" : "s"}…`);
    const gateway = await gatewayStarting?.catch(() => null);
    await gateway?.stop().catch((e: unknown) => err(`shardmax: gateway stop: ${e instanceof Error ? e.message : String(e)}`));
    await Promise.all(children.map((c) => c.terminate(CHILD_GRACE_MS)));
    tls?.remove();
    out("stopped");
  };

  try {
    out(
      `shardmax local: ${v.shards} shard process${v.shards === 1 ? "" : "es"} serving ${v.weights}, ${threads} onnxruntime thread${threads === 1 ? "" : "s"} each`,
    );
    const listening = await step(Promise.all(children.map((c) => c.listening)));
    ports = listening.map((l) => l.port);
    const addresses = listening.map((l) => `127.0.0.1:${l.port}`);
    const width = Math.max(...listening.map((l) => `[${l.rangeStart}, ${l.rangeEnd})`.length));
    listening.forEach((l, i) =>
      out(`  shard ${children[i]!.label}  classes ${`[${l.rangeStart}, ${l.rangeEnd})`.padEnd(width)}  gRPC ${addresses[i]}  pid ${l.pid}`),
    );

    if (tls) out(`  mutual TLS: throw-away CA and certificates in ${tls.dir} (deleted on exit)`);
    gatewayStarting = startGateway(addresses, v, (line) => live && err(line), tls);
    const gateway = await step(gatewayStarting);
    const rest = connectAddress(v.http, gateway.httpPort);
    const grpc = connectAddress(v.grpc, gateway.grpcPort);
    const scheme = tls ? "https" : "http";
    out(`  gateway    REST ${scheme}://${rest}  gRPC ${grpc}  pid ${process.pid}`);
    out("loading…");
    progress.start();

    await step(Promise.all(children.map((c) => c.ready.then(() => out(`  shard ${c.label} ready (${formatSeconds(Date.now() - started)})`)))));
    const model = await step(waitUntilServing(gateway));
    live = true;
    out(
      `ready in ${formatSeconds(Date.now() - started)}: V=${model.vocabSize} d=${model.dim} fingerprint=${model.fingerprint}  REST ${scheme}://${rest}  gRPC ${grpc}`,
    );
    out("Try:");
    const curlTls = tls ? { ca: tls.files.caCert, cert: tls.files.clientCert, key: tls.files.clientKey } : undefined;
    out(`  curl -sS ${curlTlsFlags(curlTls)}${scheme}://${rest}/v1/model`);
    out(`  ${curlExample(rest, model.dim, curlTls)}`);
    out(`  open ${scheme}://${rest}/ (the status page)`);
    out("Ctrl-C stops the gateway and the shards.");

    const gaveUp = children.map((_, index) => supervise(index));
    const outcome = await Promise.race([stopped.then(() => 0), ...gaveUp]);
    stopping = true;
    await shutdown();
    return outcome;
  } catch (error) {
    if (error instanceof StopRequested) {
      await shutdown();
      return 0;
    }
    if (error instanceof ChildExited) {
      const { child, exit } = error;
      err(
        `shardmax: shard ${child.label} (pid ${child.pid ?? "?"}) exited ${live ? "unexpectedly" : "during startup"} ${describeExit(exit)}${child.failure ? `: ${child.failure}` : ""}`,
      );
      if (!live) child.stderrTail().forEach((line) => err(`  | ${line}`));
      await shutdown();
      return 1;
    }
    await shutdown();
    throw error;
  }
}

function spawnShard(
  index: number,
  v: FlagValues<typeof LOCAL_FLAGS>,
  threads: number,
  context: CliContext,
  progress: ProgressLines,
  onStderr: (line: string) => void,
  tls: ThrowawayTls | null,
  listen = "127.0.0.1:0",
): ShardChild {
  const args = ["shard", "--weights", v.weights, "--shard", `${index}/${v.shards}`, "--listen", listen];
  if (tls) args.push("--tls-cert", tls.files.serverCert, "--tls-key", tls.files.serverKey, "--tls-client-ca", tls.files.caCert);
  args.push("--threads", String(threads), "--drain-ms", String(CHILD_DRAIN_MS), "--events", "--expose-topology");
  if (v.tensor !== undefined) args.push("--tensor", v.tensor);
  if (v.bias !== undefined) args.push("--bias", v.bias);
  // The children get exactly these flags: a SHARDMAX_* variable meant for `local` must not reconfigure them.
  const env = Object.fromEntries(Object.entries(context.env).filter(([name]) => !name.startsWith("SHARDMAX_")));
  // An inspector port cannot be shared; anything else (e.g. a TS loader) the children need too.
  const nodeFlags = context.execArgv.filter((a) => !a.startsWith("--inspect"));
  const label = `${index}/${v.shards}`;
  return new ShardChild({
    index,
    count: v.shards,
    execPath: process.execPath,
    args: [...nodeFlags, context.cliFile, ...args],
    env,
    onProgress: (percent) => progress.update(label, percent),
    onStderr,
  });
}

interface ThrowawayTls {
  dir: string;
  files: CertFiles;
  remove(): void;
}

function throwawayTls(): ThrowawayTls {
  const dir = mkdtempSync(join(tmpdir(), "shardmax-tls-"));
  try {
    return { dir, files: makeThrowawayCerts(dir), remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new CommandFailure(`--tls: cannot make certificates with openssl: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
}

async function startGateway(
  addresses: string[],
  v: FlagValues<typeof LOCAL_FLAGS>,
  write: (line: string) => void,
  tls: ThrowawayTls | null,
): Promise<RunningGateway> {
  const { runGateway } = await import("../gateway/main.js");
  const security = tls
    ? {
        tls: { certFile: tls.files.serverCert, keyFile: tls.files.serverKey, clientCaFile: tls.files.caCert },
        shardTls: { caFile: tls.files.caCert, certFile: tls.files.clientCert, keyFile: tls.files.clientKey },
      }
    : {};
  const config = gatewayConfig({
    ...GATEWAY_DEFAULTS,
    exposeTopology: true,
    shards: addresses,
    http: v.http,
    grpc: v.grpc,
    drainMs: GATEWAY_DRAIN_MS,
    labels: v.labels,
    modelName: v["model-name"],
    ...security,
  });
  return runGateway(config, createLogger("gateway", write));
}

/** The shards say they are ready; ask the gateway to look now rather than at its next refresh. */
async function waitUntilServing(gateway: RunningGateway): Promise<ModelRef> {
  const deadline = Date.now() + GATEWAY_READY_TIMEOUT_MS;
  for (;;) {
    await gateway.shardSet.refresh();
    const readiness = gateway.core.readiness();
    if (readiness.ready) return readiness.model;
    if (readiness.code === "MODEL_MISMATCH" && readiness.model) throw new CommandFailure(readiness.reason);
    if (Date.now() > deadline) throw new CommandFailure(`the gateway is not ready ${GATEWAY_READY_TIMEOUT_MS} ms after every shard was: ${readiness.reason}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
