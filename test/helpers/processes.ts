/**
 * Real shard processes for end-to-end tests: the compiled CLI (`dist/`, built
 * by `npm test` before vitest runs) started with `--events`, which makes a
 * shard print JSON lines ({"event":"listening","port":N}, {"event":"ready"})
 * on stdout so a test knows its port (it listens on port 0) and when it serves.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const CLI = join(import.meta.dirname, "..", "..", "dist", "services", "cli", "main.js");

export interface ShardProcess {
  child: ChildProcess;
  port: number;
  address: string;
  /** The --metrics-listen port, when given. */
  metricsPort: number | null;
  /** The class range [rangeStart, rangeEnd) it serves. */
  rangeStart: number;
  rangeEnd: number;
  args: string[];
  stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `shardmax shard …` and resolves once it serves. */
export async function startShard(args: string[], timeoutMs = 30_000): Promise<ShardProcess> {
  // stdin stays open: a shard started with --events exits when its parent goes away.
  const child = spawn(process.execPath, [CLI, "shard", ...args, "--events"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let port = -1;
  let metricsPort: number | null = null;
  let range = [-1, -1];
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shard ${args.join(" ")} not ready in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    lines.on("line", (line) => {
      let event: { event?: string; port?: number; metricsPort?: number; rangeStart?: number; rangeEnd?: number };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.event === "listening" && typeof event.port === "number") port = event.port;
      if (event.event === "listening" && typeof event.metricsPort === "number") metricsPort = event.metricsPort;
      if (event.event === "listening") range = [event.rangeStart ?? -1, event.rangeEnd ?? -1];
      if (event.event === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`shard ${args.join(" ")} exited with ${code}\n${stderr}`));
    });
  });
  await ready;
  return {
    child,
    port,
    metricsPort,
    rangeStart: range[0]!,
    rangeEnd: range[1]!,
    address: `127.0.0.1:${port}`,
    args,
    stderr: () => stderr,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
}

/** Polls `check` until it returns true (or throws after timeoutMs). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
