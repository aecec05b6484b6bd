#!/usr/bin/env node
// Measures what one shard process needs, to size the StatefulSet's memory:
// its peak while loading a slice (VmHWM) and its resident memory after batches
// of the largest row count it will be sent. Run after `npm run build`:
//
//   node k8s/tools/shard-memory.mjs CLASSES DIM [ROWS] [THREADS]
//
// CLASSES × DIM is the slice one pod serves (V / ranges × d); ROWS is the
// shard's SHARDMAX_MAX_ROWS. The head is synthetic (F32, written to a temp
// file and removed afterwards): memory depends on the shape, not the values.
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [classes, dim, rows = 64, threads = 1] = process.argv.slice(2).map(Number);
if (!(classes > 0 && dim > 0)) {
  console.error("usage: node k8s/tools/shard-memory.mjs CLASSES DIM [ROWS] [THREADS]");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cli = join(root, "dist", "services", "cli", "main.js");
const { ShardClient } = await import(join(root, "dist", "services", "gateway", "shard-client.js"));

const dir = mkdtempSync(join(tmpdir(), "shardmax-memory-"));
const file = join(dir, "head.safetensors");
writeHead(file, classes, dim);

const child = spawn(
  process.execPath,
  [cli, "shard", "--weights", file, "--shard", "0/1", "--listen", "127.0.0.1:0", "--threads", String(threads), "--max-rows", String(rows), "--events"],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const started = Date.now();
const port = await new Promise((resolve, reject) => {
  let found;
  child.once("exit", (code) => reject(new Error(`the shard exited with ${code}`)));
  child.stdout.on("data", (chunk) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      const event = JSON.parse(line);
      if (event.event === "listening") found = event.port;
      if (event.event === "ready") resolve(found);
    }
  });
});
const loadSeconds = (Date.now() - started) / 1000;
const afterLoad = memory(child.pid);

const client = new ShardClient(`127.0.0.1:${port}`, 1 << 30);
const info = await client.info(10_000);
for (const batch of [1, rows]) {
  const hidden = new Float32Array(batch * dim).fill(0.01);
  for (let i = 0; i < 3; i++) {
    await client.partial(
      {
        rows: batch,
        dim,
        hidden,
        topK: 10,
        temperature: 1,
        targetCounts: new Uint32Array(batch),
        targetIds: new Uint32Array(0),
        fingerprint: info.fingerprint,
      },
      new Date(Date.now() + 120_000),
    );
  }
}
const afterBatches = memory(child.pid);
client.close();
child.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });

const MiB = 2 ** 20;
const sliceMiB = (classes * dim * 4) / MiB;
console.log(
  JSON.stringify({
    slice: `${classes} × ${dim} F32 = ${sliceMiB.toFixed(0)} MiB`,
    rows,
    threads,
    loadSeconds,
    peakWhileLoadingMiB: Math.round(afterLoad.peak / MiB),
    residentAfterLoadMiB: Math.round(afterLoad.resident / MiB),
    peakMiB: Math.round(afterBatches.peak / MiB),
    residentAfterBatchesMiB: Math.round(afterBatches.resident / MiB),
  }),
);

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kB = (name) => 1024 * Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)[1]);
  return { peak: kB("VmHWM"), resident: kB("VmRSS") };
}

/** A safetensors file with one F32 tensor `lm_head.weight` of small pseudo-random values, written in chunks. */
function writeHead(path, rows_, cols) {
  const bytes = rows_ * cols * 4;
  let header = JSON.stringify({ "lm_head.weight": { dtype: "F32", shape: [rows_, cols], data_offsets: [0, bytes] } });
  header += " ".repeat((8 - (header.length % 8)) % 8);
  const fd = openSync(path, "w");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, length);
  writeSync(fd, Buffer.from(header));
  const chunk = new Float32Array(1 << 20);
  let seed = 1;
  for (let done = 0; done < rows_ * cols; done += chunk.length) {
    const n = Math.min(chunk.length, rows_ * cols - done);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      chunk[i] = (seed / 2 ** 32 - 0.5) * 0.1;
    }
    writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 4));
  }
  closeSync(fd);
}
