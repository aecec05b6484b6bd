/**
 * The `shardmax` CLI as a user runs it: the compiled dist/services/cli/main.js
 * in a real process (`npm test` runs `tsc -p .` first). Usage mistakes exit 2
 * naming the flag; runtime failures exit 1 with one line; `local` starts a
 * cluster that answers and leaves no child behind.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { envName, type FlagTable } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { LOCAL_FLAGS } from "../../services/cli/local-command.js";
import { SHARD_FLAGS } from "../../services/cli/shard-command.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/services/cli/main.js");

/** The caller's SHARDMAX_* variables must not leak into the runs under test. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SHARDMAX_")));
  return { ...env, ...extra };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: cleanEnv(env), timeout: 15000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function expectNoStack(text: string): void {
  expect(text).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m);
  expect(text).not.toContain("node:internal");
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p .\` (npm test does) before these tests`);
  const built = statSync(CLI).mtimeMs;
  const sources = (await readdir(join(ROOT, "services/cli"))).filter((f) => f.endsWith(".ts"));
  const stale = sources.filter((f) => statSync(join(ROOT, "services/cli", f)).mtimeMs > built);
  if (stale.length > 0) throw new Error(`dist/ is older than services/cli/{${stale.join(",")}}: run \`npx tsc -p .\``);
});

describe("help and version", () => {
  it("lists the subcommands with no arguments and with --help", async () => {
    for (const args of [[], ["--help"], ["-h"]]) {
      const { code, stdout } = await run(args);
      expect(code).toBe(0);
      for (const name of ["shard", "gateway", "local"]) expect(stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    }
  });

  it("prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const { code, stdout } = await run(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
  });

  const tables: [string, FlagTable][] = [
    ["shard", SHARD_FLAGS],
    ["gateway", GATEWAY_FLAGS],
    ["local", LOCAL_FLAGS],
  ];
  it.each(tables)("`%s --help` names every flag, its env var and default", async (command, table) => {
    const { code, stdout } = await run([command, "--help"]);
    expect(code).toBe(0);
    for (const [name, spec] of Object.entries(table)) {
      if (spec.hidden) {
        expect(stdout).not.toContain(`--${name}`);
        continue;
      }
      expect(stdout).toContain(`--${name}`);
      expect(stdout).toContain(spec.env ?? envName(name));
      if (spec.fallback.kind === "default") expect(stdout).toContain(`default ${spec.fallback.text}`);
    }
  });
});

describe("usage errors exit 2 and name the flag", () => {
  const cases: [string, string[], string][] = [
    ["unknown flag", ["shard", "--weights", "w", "--shard", "0/1", "--bogus"], "--bogus"],
    ["--shard 3/2", ["shard", "--weights", "w", "--shard", "3/2"], "--shard"],
    ["--shard x", ["shard", "--weights", "w", "--shard", "x"], "--shard"],
    ["--range 5:2", ["shard", "--weights", "w", "--range", "5:2"], "--range"],
    ["--listen nope", ["shard", "--weights", "w", "--shard", "0/1", "--listen", "nope"], "--listen"],
    ["--deadline-ms -1", ["gateway", "--shards", "127.0.0.1:1", "--deadline-ms", "-1"], "--deadline-ms"],
    ["--deadline-ms=-1", ["gateway", "--shards", "127.0.0.1:1", "--deadline-ms=-1"], "--deadline-ms"],
    ["--linger-us -1", ["gateway", "--shards", "127.0.0.1:1", "--linger-us", "-1"], "--linger-us"],
    ["--hedge-after 95", ["gateway", "--shards", "127.0.0.1:1", "--hedge-after", "95"], "--hedge-after"],
    ["--shard-transport tcp", ["gateway", "--shards", "127.0.0.1:1", "--shard-transport", "tcp"], "--shard-transport"],
    ["--max-distribution-values 0", ["gateway", "--shards", "127.0.0.1:1", "--max-distribution-values", "0"], "--max-distribution-values"],
    ["--shards missing", ["gateway"], "--shards"],
    ["--shards with a bad address", ["gateway", "--shards", "127.0.0.1:1,[::1]:70000"], "--shards"],
    ["neither --shard nor --range", ["shard", "--weights", "w"], "--shard"],
    ["--weights missing", ["shard", "--shard", "0/1"], "--weights"],
    ["local --shards 0", ["local", "--shards", "0"], "--shards"],
    ["unknown command", ["serve"], "serve"],
  ];
  it.each(cases)("%s", async (_, args, named) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const [line, hint, ...rest] = stderr.trimEnd().split("\n");
    expect(line).toMatch(/^shardmax: /);
    expect(line).toContain(named);
    expect(hint).toMatch(/--help/);
    expect(rest).toEqual([]);
  });

  it("reports a bad env value as coming from the env var", async () => {
    const { code, stderr } = await run(["shard", "--weights", "w"], { SHARDMAX_SHARD: "7/2" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^shardmax: SHARDMAX_SHARD="7\/2" \(for --shard\): .*I\/N/);
  });

  it("refuses a hedge quantile that is not a percentile in (0, 100), from the env var too", async () => {
    const { code, stderr } = await run(["gateway", "--shards", "127.0.0.1:1"], { SHARDMAX_HEDGE_AFTER: "p100" });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^shardmax: SHARDMAX_HEDGE_AFTER="p100" \(for --hedge-after\): expected off or pNN/);
  });
});

describe("runtime failures exit 1 with one line", () => {
  it("a missing --weights file", async () => {
    const { code, stderr } = await run(["shard", "--weights", join(ROOT, "no-such-head.safetensors"), "--shard", "0/1", "--listen", "127.0.0.1:0"]);
    expect(code).toBe(1);
    expect(stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^shardmax: weights .*no-such-head\.safetensors: no such file$/)]);
    expectNoStack(stderr);
  });

  it("local with a missing file fails at startup with the child's stderr tail", async () => {
    const { code, stderr } = await run(["local", "--weights", "/no/such/head.safetensors", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^shardmax: shard \d\/2 \(pid \d+\) exited during startup with code 1/m);
    expect(stderr).toContain("  | shardmax: weights /no/such/head.safetensors: no such file");
    expectNoStack(stderr);
  });
});

/** Reads a child's stdout line by line; `next(re)` waits for the first line matching re. */
function lines(child: ChildProcessWithoutNullStreams) {
  const seen: string[] = [];
  const waiting: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    seen.push(line);
    for (const w of [...waiting]) {
      const m = line.match(w.re);
      if (m) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    seen,
    exited,
    next(re: RegExp): Promise<RegExpMatchArray> {
      const old = seen.map((l) => l.match(re)).find((m) => m);
      if (old) return Promise.resolve(old);
      return new Promise((resolve, reject) => {
        waiting.push({ re, resolve });
        void exited.then((code) => reject(new Error(`exited (${code}) before printing ${re}:\n${seen.join("\n")}`)));
      });
    },
  };
}

/** A zombie (exited, not yet reaped by whoever inherited it) counts as gone. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return !/^\d+ \(.*\) Z/.test(stat);
};

async function gone(pids: number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

describe("real runs", () => {
  it("shard reads its flags from env vars, reports over --events, and exits 0 on SIGTERM", async () => {
    const env = cleanEnv({ SHARDMAX_WEIGHTS: "builtin:64x4", SHARDMAX_SHARD: "1/2", SHARDMAX_LISTEN: "nope" });
    const child = spawn(process.execPath, [CLI, "shard", "--listen", "127.0.0.1:0", "--events"], { env });
    const out = lines(child);
    const listening = JSON.parse((await out.next(/"event":"listening"/)).input!) as Record<string, number>;
    expect(listening).toMatchObject({ rangeStart: 32, rangeEnd: 64, pid: child.pid });
    expect(listening.port).toBeGreaterThan(0);
    await out.next(/"event":"ready"/);
    child.kill("SIGTERM");
    expect(await out.exited).toBe(0);
  }, 15000);

  const LOCAL_ARGS = ["local", "--weights", "builtin:2048x32", "--shards", "2", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"];

  it("local starts 2 shards and a gateway on port 0, answers the printed request, and leaves no child on SIGTERM", async () => {
    const child = spawn(process.execPath, [CLI, ...LOCAL_ARGS], { env: cleanEnv() });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const out = lines(child);
    try {
      const ready = await out.next(/^ready in .* V=(\d+) d=(\d+) .*REST http:\/\/(127\.0\.0\.1:(\d+))\s+gRPC 127\.0\.0\.1:(\d+)/);
      const [, vocab, dim, rest, httpPort, grpcPort] = ready;
      expect(Number(vocab)).toBe(2048);
      expect(Number(dim)).toBe(32);
      expect(Number(httpPort)).toBeGreaterThan(0);
      expect(Number(grpcPort)).toBeGreaterThan(0);
      const shardLines = out.seen.filter((l) => /^ {2}shard \d\/2 {2}classes/.test(l));
      expect(shardLines).toHaveLength(2);
      const pids = shardPids(out.seen);
      expect(pids.every(alive)).toBe(true);

      const hidden = [Array.from({ length: 32 }, (_, i) => Math.cos(i))];
      const response = await fetch(`http://${rest}/v1/softmax`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hidden, topK: 3 }),
      });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { model: { vocabSize: number }; results: { logZ: number; top: unknown[] }[] };
      expect(answer.model.vocabSize).toBe(2048);
      expect(answer.results[0]!.top).toHaveLength(3);
      expect(Number.isFinite(answer.results[0]!.logZ)).toBe(true);

      // The printed example is pasted into a shell as is.
      const example = out.seen.find((l) => l.includes("/v1/softmax"))!.trim();
      const pasted = await new Promise<string>((resolve, reject) =>
        execFile("/bin/sh", ["-c", example], { timeout: 10000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      expect((JSON.parse(pasted) as { results: { top: unknown[] }[] }).results[0]!.top).toHaveLength(5);

      child.kill("SIGTERM");
      expect(await out.exited).toBe(0);
      expect(out.seen.at(-1)).toBe("stopped");
      expect(await gone(pids, 2000)).toEqual([]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout\n${out.seen.join("\n")}\n--- stderr\n${stderr}`);
    } finally {
      child.kill("SIGKILL");
    }
  }, 20000);

  it("local restarts a shard that dies: 503 naming its range meanwhile, then the same exact answers, the cluster never stopping", async () => {
    const child = spawn(process.execPath, [CLI, ...LOCAL_ARGS], { env: cleanEnv() });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const out = lines(child);
    try {
      const [, , , rest] = await out.next(/^ready in .* V=(\d+) d=(\d+) .*REST http:\/\/(127\.0\.0\.1:\d+)/);
      const ask = async () => {
        const hidden = [Array.from({ length: 32 }, (_, i) => Math.sin(i))];
        const response = await fetch(`http://${rest}/v1/softmax`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ hidden, topK: 4 }),
        });
        return { status: response.status, body: (await response.json()) as { results?: unknown; error?: { code: string; message: string } } };
      };
      const before = await ask();
      expect(before.status).toBe(200);
      const [, second] = shardPids(out.seen);
      process.kill(second!, "SIGKILL");
      const during = await ask();
      expect(during.status).toBe(503);
      expect(during.body.error!.message).toMatch(/\[1024, 2048\)/);
      await out.next(/^ {2}shard 1\/2 restarted \(pid \d+\) and ready/);
      let after = await ask();
      for (let i = 0; i < 50 && after.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await ask();
      }
      expect(after.status).toBe(200);
      expect(after.body.results).toEqual(before.body.results);
      expect(child.exitCode).toBeNull();
      expect(stderr).toMatch(/shard 1\/2 \(pid \d+\) exited on SIGKILL; restarting in 500 ms/);
      child.kill("SIGTERM");
      expect(await out.exited).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout\n${out.seen.join("\n")}\n--- stderr\n${stderr}`);
    } finally {
      child.kill("SIGKILL");
    }
  }, 30000);

  it("local's children stop by themselves when the parent is killed outright", async () => {
    const child = spawn(process.execPath, [CLI, ...LOCAL_ARGS], { env: cleanEnv() });
    const out = lines(child);
    try {
      await out.next(/^ready in /);
      const pids = shardPids(out.seen);
      expect(pids.every(alive)).toBe(true);
      child.kill("SIGKILL"); // no exit handler runs: the children see their stdin pipe close
      expect(await gone(pids, 5000)).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  }, 15000);
});

function shardPids(stdout: readonly string[]): number[] {
  const shardLines = stdout.filter((l) => /^ {2}shard \d+\/\d+ {2}classes/.test(l));
  expect(shardLines.length).toBeGreaterThan(0);
  return shardLines.map((l) => Number(/pid (\d+)/.exec(l)![1]));
}
