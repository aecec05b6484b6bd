/**
 * A shardmax cluster of real processes for the soak and the TLS-cost point:
 * N shard processes and one gateway process, started from dist/ with the CLI,
 * optionally over TLS or mutual TLS (certificates from the same throw-away CA
 * code as `shardmax local --tls`). A shard can be killed and started again on
 * its port; every process's RSS can be read from /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type ClientOptions, ShardmaxClient } from "../sdk/index.js";
import { type CertFiles, makeThrowawayCerts } from "../services/cli/throwaway-certs.js";
import { packageRoot } from "../shared/package-root.js";

export type Security = "plaintext" | "tls" | "mtls";

export interface ClusterSpec {
  weights: string;
  shards: number;
  threads: number;
  security: Security;
}

interface Proc {
  child: ChildProcess;
  port: number;
}

const CLI = join(packageRoot(), "dist", "services", "cli", "main.js");

function lines(child: ChildProcess, stream: "stdout" | "stderr", match: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const reader = createInterface({ input: child[stream]! });
    reader.on("line", (line) => {
      const m = line.match(match);
      if (m) resolve(m);
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before ${match}`)));
  });
}

export class Cluster {
  private readonly shardProcs: Proc[] = [];
  private gateway: Proc | null = null;
  grpcAddress = "";
  readonly certs: CertFiles | null;
  private readonly dir: string | null;

  constructor(private readonly spec: ClusterSpec) {
    this.dir = spec.security === "plaintext" ? null : mkdtempSync(join(tmpdir(), "shardmax-bench-tls-"));
    this.certs = this.dir ? makeThrowawayCerts(this.dir) : null;
  }

  private shardArgs(index: number, port: number): string[] {
    const args = [
      "shard",
      "--weights",
      this.spec.weights,
      "--shard",
      `${index}/${this.spec.shards}`,
      "--listen",
      `127.0.0.1:${port}`,
      "--threads",
      String(this.spec.threads),
      "--events",
    ];
    const c = this.certs;
    if (c) args.push("--tls-cert", c.serverCert, "--tls-key", c.serverKey);
    if (c && this.spec.security === "mtls") args.push("--tls-client-ca", c.caCert);
    return args;
  }

  private async startShard(index: number, port = 0): Promise<Proc> {
    const child = spawn(process.execPath, [CLI, ...this.shardArgs(index, port)], { stdio: ["pipe", "pipe", "ignore"] });
    // One reader for both events: they may arrive in one chunk.
    const bound = await new Promise<number>((resolve, reject) => {
      let at = 0;
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const listening = /"event":"listening","port":(\d+)/.exec(line);
        if (listening) at = Number(listening[1]);
        if (line.includes('"event":"ready"')) resolve(at);
      });
      child.once("exit", (code) => reject(new Error(`shard ${index} exited ${code} before it was ready`)));
    });
    return { child, port: bound };
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.spec.shards; i++) this.shardProcs.push(await this.startShard(i));
    const args = ["gateway", "--shards", this.shardProcs.map((s) => `127.0.0.1:${s.port}`).join(","), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"];
    const c = this.certs;
    if (c) args.push("--tls-cert", c.serverCert, "--tls-key", c.serverKey, "--shard-tls-ca", c.caCert);
    if (c && this.spec.security === "mtls") args.push("--tls-client-ca", c.caCert, "--shard-tls-cert", c.clientCert, "--shard-tls-key", c.clientKey);
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, GRPC_VERBOSITY: "ERROR" } });
    const listening = await lines(child, "stderr", /gateway listening .*grpc=([\d.]+):(\d+)/);
    child.stderr!.resume();
    this.gateway = { child, port: Number(listening[2]) };
    this.grpcAddress = `127.0.0.1:${this.gateway.port}`;
    const client = new ShardmaxClient(this.grpcAddress, this.clientOptions());
    try {
      for (let i = 0; ; i++) {
        try {
          await client.info({ deadlineMs: 2000 });
          break;
        } catch (err) {
          if (i > 300) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      client.close();
    }
  }

  /** What a client of this cluster passes to the SDK. */
  clientOptions(): ClientOptions {
    const c = this.certs;
    if (!c) return {};
    const read = (path: string) => readFileSync(path);
    return { tls: { ca: read(c.caCert), ...(this.spec.security === "mtls" ? { cert: read(c.clientCert), key: read(c.clientKey) } : {}) } };
  }

  /** Kills shard `index` outright (SIGKILL) and starts it again on the same port; resolves when it is loaded. */
  async restartShard(index: number): Promise<{ downMs: number }> {
    const old = this.shardProcs[index]!;
    const killedAt = performance.now();
    const gone = new Promise((r) => old.child.once("exit", r));
    old.child.kill("SIGKILL");
    await gone;
    this.shardProcs[index] = await this.startShard(index, old.port);
    return { downMs: performance.now() - killedAt };
  }

  pids(): { role: string; pid: number }[] {
    return [
      { role: "gateway", pid: this.gateway!.child.pid! },
      ...this.shardProcs.map((s, i) => ({ role: `shard ${i}/${this.spec.shards}`, pid: s.child.pid! })),
    ];
  }

  async stop(): Promise<void> {
    const all = [this.gateway, ...this.shardProcs].filter((p): p is Proc => p !== null);
    await Promise.all(
      all.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null) return resolve();
            p.child.once("exit", () => resolve());
            p.child.kill("SIGTERM");
            setTimeout(() => p.child.kill("SIGKILL"), 5000).unref();
          }),
      ),
    );
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resident set size of a process, in MiB (from /proc). */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}
