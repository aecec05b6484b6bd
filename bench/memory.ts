/**
 * Resident memory of one real shard process serving one range of a large
 * head, the figure the README quotes. Writes a deterministic safetensors head
 * (V × d, F32 or BF16, no bias) to a temporary folder, starts the compiled
 * CLI's `shardmax shard` on one of N ranges, reads /proc/<pid>/status
 * (VmRSS, VmHWM = peak RSS) when it is ready and after Partial calls of each
 * batch size, and deletes the file. An idle shard of a tiny head gives the
 * process's own baseline. With --check, the shard's answer for two rows is
 * compared with a float64 computation over the file's bytes.
 *
 *   npm run build && node dist/bench/memory.js --vocab 262144 --dim 1024 --dtype F32 --shards 4
 *   node dist/bench/memory.js --vocab 262144 --dim 1024 --dtype BF16 --shards 4
 *   node dist/bench/memory.js --vocab 100000 --dim 8192 --shards 1 --batches 1 --check   # a 3.3 GB slice
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ShardClient } from "../services/gateway/shard-client.js";
import { defaultOptions } from "../shared/math/row-options.js";
import { splitRange } from "../shared/ranges.js";

const { values: args } = parseArgs({
  options: {
    vocab: { type: "string", default: "262144" },
    dim: { type: "string", default: "1024" },
    dtype: { type: "string", default: "F32" },
    shards: { type: "string", default: "4" },
    index: { type: "string", default: "0" },
    batches: { type: "string", default: "1,32" },
    threads: { type: "string", default: "2" },
    "block-rows": { type: "string" },
    "max-batch-rows": { type: "string" },
    dir: { type: "string", default: tmpdir() },
    /** Another build's CLI, to compare (e.g. before a change). */
    cli: { type: "string" },
    check: { type: "boolean", default: false },
  },
});
const V = Number(args.vocab);
const D = Number(args.dim);
const DTYPE = args.dtype === "BF16" ? "BF16" : "F32";
const ELEMENT = DTYPE === "F32" ? 4 : 2;
const CLI = args.cli ?? join(import.meta.dirname, "..", "services", "cli", "main.js");
const MB = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

interface Memory {
  rssKiB: number;
  hwmKiB: number;
}

async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)![1]);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** A deterministic [V, D] head, written in chunks: the file is never whole in this process's memory. */
async function writeHead(path: string): Promise<void> {
  const header = Buffer.from(JSON.stringify({ "lm_head.weight": { dtype: DTYPE, shape: [V, D], data_offsets: [0, V * D * ELEMENT] } }));
  const padded = Buffer.concat([header, Buffer.alloc((8 - (header.length % 8)) % 8, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  const file = await open(path, "w");
  await file.write(Buffer.concat([prefix, padded]));
  const rowsPerChunk = Math.max(1, Math.floor((16 << 20) / (D * 4)));
  const values = new Float32Array(rowsPerChunk * D);
  let state = 0x9e3779b9;
  for (let row = 0; row < V; row += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, V - row) * D;
    // xorshift32 → uniform in ±0.1: logits of a few units for h ~ N(0, 1) at d ≈ 1000.
    for (let i = 0; i < n; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      values[i] = ((state >>> 0) / 2 ** 32 - 0.5) * 0.2 * Math.sqrt(1024 / D);
    }
    const bytes = DTYPE === "F32" ? new Uint8Array(values.buffer, 0, n * 4) : bf16Bytes(values.subarray(0, n));
    await file.write(bytes);
  }
  await file.close();
}

function bf16Bytes(values: Float32Array): Uint8Array {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = words[i]! >>> 16;
  return new Uint8Array(out.buffer);
}

interface Shard {
  pid: number;
  port: number;
  log: string[];
  stop(): Promise<void>;
}

async function startShard(extra: string[]): Promise<Shard> {
  const child = spawn(process.execPath, [CLI, "shard", "--listen", "127.0.0.1:0", "--threads", args.threads!, "--events", ...extra], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => log.push(line));
  const port = await new Promise<number>((resolve, reject) => {
    let port = -1;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = JSON.parse(line) as { event: string; port?: number; message?: string };
      if (event.event === "listening") port = event.port!;
      if (event.event === "ready") resolve(port);
      if (event.event === "failed") reject(new Error(event.message));
    });
    child.once("exit", (code) => reject(new Error(`shard exited with ${code}:\n${log.join("\n")}`)));
  });
  return {
    pid: child.pid!,
    port,
    log,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function hiddenRows(rows: number): Float32Array {
  const hidden = new Float32Array(rows * D);
  for (let i = 0; i < hidden.length; i++) hidden[i] = Math.sin(i * 0.7311 + 0.1) * 1.7;
  return hidden;
}

async function partial(client: ShardClient, fingerprint: string, rows: number) {
  return client.partial(
    {
      rows,
      dim: D,
      hidden: hiddenRows(rows),
      topK: 5,
      options: defaultOptions(),
      targetCounts: new Uint32Array(rows),
      targetIds: new Uint32Array(0),
      fingerprint,
    },
    new Date(Date.now() + 600_000),
  );
}

/** Float64 max, log Σ exp and arg-max of rows [start, end) · h for the first `rows` hidden rows, from the raw file bytes. */
async function reference(path: string, start: number, end: number, rows: number) {
  const file = await open(path, "r");
  const prefix = Buffer.alloc(8);
  await file.read(prefix, 0, 8, 0);
  const dataStart = 8 + Number(prefix.readBigUInt64LE(0));
  const hidden = hiddenRows(rows);
  const logits = Array.from({ length: rows }, () => new Float64Array(end - start));
  const rowsPerChunk = Math.max(1, Math.floor((16 << 20) / (D * ELEMENT)));
  const chunk = Buffer.alloc(rowsPerChunk * D * ELEMENT);
  for (let first = start; first < end; first += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, end - first);
    await file.read(chunk, 0, n * D * ELEMENT, dataStart + first * D * ELEMENT);
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let j = 0; j < D; j++) {
          const at = (i * D + j) * ELEMENT;
          const w = DTYPE === "F32" ? chunk.readFloatLE(at) : new Float32Array(new Uint32Array([chunk.readUInt16LE(at) << 16]).buffer)[0]!;
          dot += w * hidden[r * D + j]!;
        }
        logits[r]![first - start + i] = dot;
      }
    }
  }
  await file.close();
  return logits.map((z) => {
    let m = -Infinity;
    let arg = -1;
    z.forEach((v, i) => {
      if (v > m) {
        m = v;
        arg = i;
      }
    });
    const sum = z.reduce((s, v) => s + Math.exp(v - m), 0);
    return { max: m, logSum: m + Math.log(sum), top: start + arg };
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(args.dir!, "shardmax-memory-"));
  const path = join(dir, `head-${randomBytes(4).toString("hex")}.safetensors`);
  try {
    const range = splitRange(V, Number(args.index), Number(args.shards));
    const sliceF32 = range.size * D * 4;
    console.log(
      `head ${V} × ${D} ${DTYPE}: ${MB(V * D * ELEMENT)} MiB on disk; shard ${args.index}/${args.shards} serves ${range}, ${MB(sliceF32)} MiB as float32`,
    );
    let t = Date.now();
    await writeHead(path);
    console.log(`wrote ${path} in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const idle = await startShard(["--weights", "builtin:1024x16", "--shard", "0/1"]);
    const baseline = await memoryOf(idle.pid);
    await idle.stop();
    console.log(`baseline (idle shard, tiny head): VmRSS ${MB(baseline.rssKiB * 1024)} MiB`);

    t = Date.now();
    const blockArgs = [
      ...(args["block-rows"] ? ["--block-rows", args["block-rows"]] : []),
      // The shard warms up with one run of its largest batch, so working memory for it is resident from the start.
      ...(args["max-batch-rows"] ? ["--max-batch-rows", args["max-batch-rows"]] : []),
    ];
    const shard = await startShard(["--weights", path, "--shard", `${args.index}/${args.shards}`, ...blockArgs]);
    const loadSeconds = (Date.now() - t) / 1000;
    const report = (label: string, m: Memory) =>
      console.log(
        `${label.padEnd(24)} VmRSS ${MB(m.rssKiB * 1024).padStart(5)} MiB (${((m.rssKiB * 1024) / sliceF32).toFixed(2)}× slice; ` +
          `${(((m.rssKiB - baseline.rssKiB) * 1024) / sliceF32).toFixed(2)}× above baseline)   VmHWM ${MB(m.hwmKiB * 1024).padStart(5)} MiB (${((m.hwmKiB * 1024) / sliceF32).toFixed(2)}×; ` +
          `${(((m.hwmKiB - baseline.rssKiB) * 1024) / sliceF32).toFixed(2)}× above baseline)`,
      );
    report("ready", await memoryOf(shard.pid));
    for (const line of shard.log.filter((l) => /\b(loaded|fingerprinted|serving)\b/.test(l))) console.log(`  log: ${line.replace(/^\S+ info /, "")}`);
    console.log(`  ready ${loadSeconds.toFixed(1)} s after start`);
    const client = new ShardClient(`127.0.0.1:${shard.port}`, 1 << 30);
    const info = await client.info(10_000);
    for (const rows of args.batches!.split(",").map(Number)) {
      const times: number[] = [];
      for (let i = 0; i < 9; i++) {
        t = performance.now();
        await partial(client, info.fingerprint, rows);
        times.push(performance.now() - t);
      }
      const median = times.sort((a, b) => a - b)[4]!;
      report(`after 9 × B=${rows} (median ${median.toFixed(0)} ms)`, await memoryOf(shard.pid));
    }
    if (args.check) {
      const got = await partial(client, info.fingerprint, 2);
      const want = await reference(path, range.start, range.end, 2);
      want.forEach((w, r) => {
        const logSum = got.max[r]! + Math.log(got.sumExp[r]!);
        console.log(
          `check row ${r}: top ${got.topIds[r * got.k]} (float64 ${w.top}), max ${got.max[r]!.toFixed(5)} (${w.max.toFixed(5)}), log Σ exp ${logSum.toFixed(6)} (${w.logSum.toFixed(6)}, |Δ| ${Math.abs(logSum - w.logSum).toExponential(1)})`,
        );
      });
    }
    client.close();
    await shard.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
