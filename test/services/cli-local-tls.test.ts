/**
 * `shardmax local --tls` as a user runs it (a real process from dist/): a
 * throw-away CA, the shards and the gateway over mutual TLS, and a printed
 * curl line that works when pasted into a shell; plaintext and
 * certificate-less clients are refused, and the certificates are deleted on exit.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/services/cli/main.js");

const sh = (command: string) =>
  new Promise<{ ok: boolean; stdout: string }>((resolve) =>
    execFile("/bin/sh", ["-c", command], { timeout: 10_000 }, (err, stdout) => resolve({ ok: !err, stdout })),
  );

it("local --tls serves over mutual TLS, prints a working curl line, and removes its certificates on exit", async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SHARDMAX_")));
  const child = spawn(
    process.execPath,
    [CLI, "local", "--tls", "--weights", "builtin:512x16", "--shards", "2", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"],
    { env },
  );
  const seen: string[] = [];
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      seen.push(line);
      if (line.startsWith("Ctrl-C")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`exited ${code}\n${seen.join("\n")}\n${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    await ready;
    const dir = /certificates in (\S+)/.exec(seen.join("\n"))![1]!;
    const rest = /REST https:\/\/(127\.0\.0\.1:\d+)/.exec(seen.join("\n"))![1]!;
    const example = seen.find((l) => l.includes("/v1/softmax"))!.trim();
    expect(example).toContain("--cacert");
    const pasted = await sh(example);
    expect(pasted.ok).toBe(true);
    const answer = JSON.parse(pasted.stdout) as { results: { logZ: number; top: { id: number }[] }[] };
    expect(answer.results[0]!.top).toHaveLength(5);
    // The printed model line works too; plaintext and a client without a certificate do not.
    expect((await sh(seen.find((l) => l.includes("/v1/model"))!.trim())).ok).toBe(true);
    expect((await sh(`curl -sS --fail http://${rest}/v1/model`)).ok).toBe(false);
    expect((await sh(`curl -sS --fail --cacert '${dir}/shardmax-ca.crt' https://${rest}/v1/model`)).ok).toBe(false);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(dir)).toBe(false);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- stdout\n${seen.join("\n")}\n--- stderr\n${stderr}`);
  } finally {
    child.kill("SIGKILL");
  }
}, 30_000);
