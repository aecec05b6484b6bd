/**
 * The systems under test, each started as real processes on loopback and
 * reached through the same `shardmax.v1.Softmax` Query:
 *   A  single   one process, the whole head, one onnxruntime run per request
 *   B  gather   N shards return every logit; a gateway gathers and does the softmax
 *   C  shardmax N shardmax shards (batching on) behind the shardmax gateway
 * Each reports, when stopped, every process's peak and final resident memory.
 */
import { join } from "node:path";
import { ShardmaxClient } from "../sdk/index.js";
import { packageRoot } from "../shared/package-root.js";
import { BenchChild, type Memory } from "./child-process.js";

export type SystemSpec =
  | { kind: "single"; threads: number }
  | { kind: "gather"; shards: number; threadsPerShard: number }
  | { kind: "shardmax"; shards: number; threadsPerShard: number; maxBatchRows?: number; maxQueueDelayUs?: number; observe?: Observe };

/** Metrics and traces of a shardmax system (bench/observability.ts); unset: the defaults (gateway metrics on, shard metrics and tracing off). */
export interface Observe {
  metrics: boolean;
  otlpEndpoint?: string;
}

export interface ProcessReport extends Memory {
  role: string;
  /** The batch counters a shardmax shard logs when it stops, if any. */
  batches?: { runs: number; calls: number; rows: number };
}

export interface RunningSystem {
  address: string;
  /** Every process of the system, for the CPU accounting of the measurements. */
  pids: () => number[];
  /** Ports of the shard processes: the gateway's connections to them are the sharding wire. */
  shardPorts: number[];
  /** The shardmax gateway's REST address (C only). */
  httpAddress?: string;
  stop(): Promise<ProcessReport[]>;
}

const dist = (...parts: string[]) => join(packageRoot(), "dist", ...parts);

export function systemLabel(spec: SystemSpec): string {
  switch (spec.kind) {
    case "single":
      return "A · single process";
    case "gather":
      return `B · gather logits, ${spec.shards} shards`;
    case "shardmax":
      return `C · shardmax, ${spec.shards} shard${spec.shards === 1 ? "" : "s"}`;
  }
}

export async function startSystem(spec: SystemSpec, weights: string, vocabSize: number): Promise<RunningSystem> {
  const children: BenchChild[] = [];
  const pids = () => children.map((c) => c.pid);
  const stop = async (): Promise<ProcessReport[]> => {
    const reports = children.map((c) => ({ role: c.label, ...c.memory() }));
    // Front first, so nothing calls a shard that is already gone.
    for (const child of [...children].reverse()) await child.stop();
    return reports.map((r, i) => ({ ...r, ...batchCounters(children[i]!.stderrTail()) }));
  };
  try {
    if (spec.kind === "single") {
      const a = new BenchChild("single", dist("bench", "single", "server.js"), ["--weights", weights, "--threads", `${spec.threads}`]);
      children.push(a);
      const { port } = await a.next("listening");
      await a.next("ready");
      return { address: `127.0.0.1:${port}`, pids, shardPorts: [], stop };
    }
    const shardPorts = await Promise.all(
      Array.from({ length: spec.shards }, async (_, i) => {
        const args =
          spec.kind === "gather"
            ? [dist("bench", "gather", "shard.js"), "--weights", weights, "--shard", `${i}/${spec.shards}`, "--threads", `${spec.threadsPerShard}`]
            : [
                dist("services", "cli", "main.js"),
                "shard",
                "--weights",
                weights,
                "--shard",
                `${i}/${spec.shards}`,
                "--listen",
                "127.0.0.1:0",
                "--threads",
                `${spec.threadsPerShard}`,
                "--events",
                ...batchFlags(spec),
                ...observeFlags(spec, "shard"),
              ];
        const shard = new BenchChild(`shard ${i}/${spec.shards}`, args[0]!, args.slice(1));
        children.push(shard);
        const { port } = await shard.next("listening");
        await shard.next("ready");
        return port as number;
      }),
    );
    const addresses = shardPorts.map((p) => `127.0.0.1:${p}`).join(",");
    if (spec.kind === "gather") {
      const gateway = new BenchChild("gateway", dist("bench", "gather", "gateway.js"), [
        "--shards",
        addresses,
        "--vocab-size",
        `${vocabSize}`,
        "--threads",
        "1",
      ]);
      children.push(gateway);
      const { port } = await gateway.next("listening");
      return { address: `127.0.0.1:${port}`, pids, shardPorts, stop };
    }
    let announce: (ports: [number, number]) => void = () => {};
    const announced = new Promise<[number, number]>((resolve) => (announce = resolve));
    const gateway = new BenchChild(
      "gateway",
      dist("services", "cli", "main.js"),
      ["gateway", "--shards", addresses, "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", ...observeFlags(spec, "gateway")],
      (line) => {
        const grpc = / grpc=[^ ]*:(\d+)/.exec(line);
        const http = / http=[^ ]*:(\d+)/.exec(line);
        if (line.includes("gateway listening") && grpc && http) announce([Number(grpc[1]), Number(http[1])]);
      },
    );
    children.push(gateway);
    const [port, httpPort] = await Promise.race([announced, gateway.exited.then(() => Promise.reject(new Error(`gateway exited:\n${gateway.stderrTail()}`)))]);
    await untilReady(`127.0.0.1:${port}`);
    return { address: `127.0.0.1:${port}`, httpAddress: `127.0.0.1:${httpPort}`, pids, shardPorts, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

function batchFlags(spec: Extract<SystemSpec, { kind: "shardmax" }>): string[] {
  const flags: string[] = [];
  if (spec.maxBatchRows !== undefined) flags.push("--max-batch-rows", `${spec.maxBatchRows}`);
  if (spec.maxQueueDelayUs !== undefined) flags.push("--max-queue-delay-us", `${spec.maxQueueDelayUs}`);
  return flags;
}

function observeFlags(spec: Extract<SystemSpec, { kind: "shardmax" | "gather" }>, role: "shard" | "gateway"): string[] {
  const observe = spec.kind === "shardmax" ? spec.observe : undefined;
  if (!observe) return [];
  const flags: string[] = observe.otlpEndpoint ? ["--otlp-endpoint", observe.otlpEndpoint] : [];
  if (role === "shard" && observe.metrics) flags.push("--metrics-listen", "127.0.0.1:0");
  if (role === "gateway" && !observe.metrics) flags.push("--no-metrics");
  return flags;
}

async function untilReady(address: string): Promise<void> {
  const client = new ShardmaxClient(address);
  try {
    for (let attempt = 0; attempt < 600; attempt++) {
      const info = await client.info({ deadlineMs: 2000 }).catch(() => null);
      if (info?.ready) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gateway ${address} did not become ready`);
  } finally {
    client.close();
  }
}

function batchCounters(stderr: string): Pick<ProcessReport, "batches"> {
  const line = stderr.split("\n").find((l) => l.includes(" batches ") || l.startsWith("gather shard"));
  if (!line) return {};
  const get = (key: string) => Number(new RegExp(`${key}=(\\d+)`).exec(line)?.[1] ?? NaN);
  return { batches: { runs: get("runs"), calls: get("calls"), rows: get("rows") } };
}
