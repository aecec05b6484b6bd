/**
 * The security flags at the edge: TLS files must be readable and come in
 * pairs, quotas need keys and a valid form; each mistake exits 2 naming the
 * flag (or its environment variable). SHARDMAX_API_KEYS_FILE is --api-keys' twin.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/heads.js";

const CLI = join(fileURLToPath(new URL("../..", import.meta.url)), "dist/services/cli/main.js");

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SHARDMAX_")));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...clean, ...env }, timeout: 15000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stderr });
    });
  });
}

describe("security flags", async () => {
  const dir = await tempDir();
  const pem = join(dir, "x.pem");
  writeFileSync(pem, "not a certificate");
  const gw = ["gateway", "--shards", "127.0.0.1:1"];
  const cases: [string, string[], Record<string, string>, string][] = [
    ["a missing certificate file", [...gw, "--tls-cert", "/no/such.pem", "--tls-key", pem], {}, "--tls-cert"],
    ["a certificate without a key", [...gw, "--tls-cert", pem], {}, "--tls-key"],
    ["a client CA without TLS", [...gw, "--tls-client-ca", pem], {}, "--tls-client-ca"],
    ["a shard client certificate without its key", [...gw, "--shard-tls-cert", pem], {}, "--shard-tls-key"],
    ["a quota without keys", [...gw, "--key-rate-limit", "10r"], {}, "--api-keys"],
    ["a malformed quota", [...gw, "--api-keys", pem, "--key-rate-limit", "10x"], {}, "--key-rate-limit"],
    ["a missing key file from the environment", gw, { SHARDMAX_API_KEYS_FILE: "/no/keys" }, "SHARDMAX_API_KEYS_FILE"],
    ["a shard key without a certificate", ["shard", "--weights", "builtin:64x4", "--shard", "0/1", "--tls-key", pem], {}, "--tls-cert"],
  ];
  it.each(cases)("%s exits 2 naming the flag", async (_name, args, env, named) => {
    const { code, stderr } = await run(args, env);
    expect(code).toBe(2);
    // One line naming the flag; the next only points to --help.
    expect(stderr.split("\n")[0]).toContain(named);
  });
});

describe("TLS settings from the flags", () => {
  it("dials the shards in plaintext unless a --shard-tls-* flag is given, whatever else is set", async () => {
    const { parseFlags } = await import("../../services/cli/flags.js");
    const { GATEWAY_FLAGS } = await import("../../services/cli/gateway-command.js");
    const { dialTls, servingTls } = await import("../../services/cli/tls-flags.js");
    const plain = parseFlags(GATEWAY_FLAGS, ["--shards", "127.0.0.1:1", "--deadline-ms", "5"], {}).values;
    expect(dialTls(plain)).toBeUndefined();
    expect(servingTls(plain)).toBeUndefined();
    const named = parseFlags(GATEWAY_FLAGS, ["--shards", "127.0.0.1:1", "--shard-tls-server-name", "shard.internal"], {}).values;
    expect(dialTls(named)).toEqual({ caFile: undefined, certFile: undefined, keyFile: undefined, serverName: "shard.internal" });
  });
});
