/**
 * The gateway's peak RSS under the worst requests the default flags allow
 * (issue 10): `node dist/bench/probes/worst-request.js [--weights builtin:16384x64]`.
 * Starts `shardmax local`, sends, per protocol, 8 concurrent answers just
 * under --max-response-bytes (REST: JSON, gRPC: the SDK) and the issue's
 * 1024 × 10 000-target gRPC query, and prints the local process's (the
 * gateway's) RSS before and at its peak, and what each request got.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ShardmaxClient } from "../../sdk/index.js";
import { packageRoot } from "../../shared/package-root.js";

const { values } = parseArgs({ options: { weights: { type: "string", default: "builtin:16384x64" } } });
const HTTP = "127.0.0.1:18480";
const GRPC = "127.0.0.1:18450";

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

const child = spawn(
  process.execPath,
  [join(packageRoot(), "dist/services/cli/main.js"), "local", "--weights", values.weights!, "--http", HTTP, "--grpc", GRPC],
  { stdio: ["pipe", "pipe", "inherit"] },
);
await new Promise<void>((resolve) => child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready in") && resolve()));
const pid = child.pid!;
const model = (await (await fetch(`http://${HTTP}/v1/model`)).json()) as { model: { dim: number; vocabSize: number } };
const d = model.model.dim;
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);

async function phase(name: string, run: () => Promise<string[]>): Promise<void> {
  const before = rssMiB(pid);
  peak = before;
  const started = performance.now();
  const outcomes = await run();
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  const ready = await fetch(`http://${HTTP}/readyz`).then((r) => r.status);
  console.log(
    `${name}: RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s; ${[...counts].map(([o, n]) => `${n}× ${o}`).join(", ")}; /readyz ${ready}`,
  );
}

const rows = 140; // 140 × 1000 entries × ~110 bytes: just under the 16 MiB answer limit
const hidden = Array.from({ length: rows }, (_, r) => Array.from({ length: d }, (_, i) => Math.sin(r + i)));
await phase("REST, 8 × (140 rows × topK 1000)", () =>
  Promise.all(
    Array.from({ length: 8 }, () =>
      fetch(`http://${HTTP}/v1/softmax`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hidden, topK: 1000 }),
      }).then(async (r) => `${r.status} ${(await r.arrayBuffer()).byteLength} B`),
    ),
  ),
);
const client = new ShardmaxClient(GRPC);
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code?: string }) => e.code ?? "error",
  );
await phase("gRPC, 8 × (140 rows × topK 1000)", () => Promise.all(Array.from({ length: 8 }, () => outcome(client.query({ hidden, topK: 1000 })))));
const zeros = new Float32Array(1024 * d);
const targets = Array.from({ length: 1024 }, () => Array.from({ length: 10_000 }, (_, i) => i % model.model.vocabSize));
await phase("gRPC, 1024 rows × 10 000 targets (the issue's killer)", async () => [await outcome(client.query({ hidden: zeros, dim: d, topK: 5, targets }))]);
clearInterval(sampler);
client.close();
child.kill("SIGTERM");
