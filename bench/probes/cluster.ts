/**
 * The processes the scale-out and hedging probes start: shard processes or a
 * shard host (many shards in one process), and a `shardmax gateway` process
 * with extra flags, whose ports come from its "gateway listening" log line.
 */
import { join } from "node:path";
import { packageRoot } from "../../shared/package-root.js";
import { BenchChild } from "../child-process.js";

/** A file of a built checkout's dist/ (this one by default; another for A/B rounds). */
const dist = (...parts: string[]) => join(packageRoot(), "dist", ...parts);
const distOf = (root: string | undefined, ...parts: string[]) => (root ? join(root, "dist", ...parts) : dist(...parts));

export interface GatewayChild {
  child: BenchChild;
  http: number;
  grpc: number;
}

export async function startGatewayChild(addresses: readonly string[], flags: readonly string[] = [], root?: string): Promise<GatewayChild> {
  let announce: (ports: { http: number; grpc: number }) => void = () => {};
  const announced = new Promise<{ http: number; grpc: number }>((resolve) => (announce = resolve));
  const child = new BenchChild(
    "gateway",
    distOf(root, "services", "cli", "main.js"),
    ["gateway", "--shards", addresses.join(","), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", ...flags],
    (line) => {
      const http = / http=[^ ]*:(\d+)/.exec(line);
      const grpc = / grpc=[^ ]*:(\d+)/.exec(line);
      if (line.includes("gateway listening") && http && grpc) announce({ http: Number(http[1]), grpc: Number(grpc[1]) });
    },
  );
  const ports = await Promise.race([announced, child.exited.then(() => Promise.reject(new Error(`gateway exited:\n${child.stderrTail()}`)))]);
  return { child, ...ports };
}

/** `count` shards of `weights` in one process (shard-host.ts), `replicas` per range. */
export async function startShardHost(
  weights: string,
  count: number,
  replicas = 1,
  inferenceThread: "main" | "worker" = "main",
): Promise<{ child: BenchChild; addresses: string[] }> {
  const child = new BenchChild(`shard-host ×${count}`, dist("bench", "probes", "shard-host.js"), [
    "--weights",
    weights,
    "--shards",
    `${count}`,
    "--replicas",
    `${replicas}`,
    "--inference-thread",
    inferenceThread,
  ]);
  const { ports } = (await child.next("listening")) as unknown as { ports: number[] };
  await child.next("ready");
  return { child, addresses: ports.map((p) => `127.0.0.1:${p}`) };
}

/** One `shardmax shard` process serving [start, end). */
export async function startShardProcess(weights: string, start: number, end: number, root?: string): Promise<{ child: BenchChild; address: string }> {
  const child = new BenchChild(`shard ${start}:${end}`, distOf(root, "services", "cli", "main.js"), [
    "shard",
    "--weights",
    weights,
    "--range",
    `${start}:${end}`,
    "--listen",
    "127.0.0.1:0",
    "--threads",
    "1",
    "--events",
  ]);
  const { port } = (await child.next("listening")) as unknown as { port: number };
  await child.next("ready");
  return { child, address: `127.0.0.1:${port}` };
}

/** Asks until the gateway answers (its first Info round may still be under way). */
export async function untilAnswers(ask: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await ask(i).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the gateway never answered");
}
