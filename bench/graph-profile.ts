/**
 * Where one block's run goes, op by op: the shard's own graph over a
 * synthetic rows × dim block, run with onnxruntime's profiler on, time per op
 * type per run. At small d the ops after the Gemm (each a pass over
 * [batch, rows]) are a large share, which is why the graph keeps so few.
 *
 *   npm run build && node dist/bench/graph-profile.js --rows 131072 --dim 128 --batch 64
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { augmentedLength, augmentInPlace } from "../services/shard/augmented-block.js";
import { externalData, INPUTS, partialGraph } from "../services/shard/partial-graph.js";
import { cpuSessionOptions } from "../shared/onnx/session-options.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "131072" },
    dim: { type: "string", default: "128" },
    batch: { type: "string", default: "64" },
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "11" },
  },
});
const [rows, dim, batch, threads, runs] = [values.rows, values.dim, values.batch, values.threads, values.runs].map(Number) as [
  number,
  number,
  number,
  number,
  number,
];

const PREFIX = `shardmax-profile-${process.pid}`;
const buffer = new Float32Array(augmentedLength(rows, dim));
for (let i = 0; i < rows * dim; i++) buffer[i] = (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.2;
const augmented = augmentInPlace(buffer, rows, dim, null);
const session = await ort.InferenceSession.create(partialGraph({ rows, dim }), {
  ...cpuSessionOptions(threads),
  externalData: externalData(augmented),
  enableProfiling: true,
  profileFilePrefix: join(tmpdir(), PREFIX),
});
const width = dim + 1;
const feeds = {
  [INPUTS.hidden]: new ort.Tensor(
    "float32",
    Float32Array.from({ length: batch * width }, (_, i) => (i % width === dim ? 1 : Math.sin(i))),
    [batch, width],
  ),
  [INPUTS.k]: new ort.Tensor("int64", new BigInt64Array([10n]), [1]),
  [INPUTS.targets]: new ort.Tensor("int64", new BigInt64Array(batch), [batch, 1]),
};
for (let i = 0; i < runs; i++) await session.run(feeds);
session.endProfiling();
await session.release();
// onnxruntime-node does not say which file it wrote: the one with our prefix.
const file = join(tmpdir(), readdirSync(tmpdir()).find((name) => name.startsWith(PREFIX))!);

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}
const events = JSON.parse(readFileSync(file, "utf8")) as ProfileEvent[];
rmSync(file, { force: true });
// The first run allocates and plans memory: leave it out.
const [first, ...modelRuns] = events.filter((e) => e.name === "model_run").sort((a, b) => a.ts - b.ts);
const warm = first!.ts + first!.dur;
const perOp = new Map<string, number>();
for (const e of events) {
  if (e.ts < warm || e.cat !== "Node" || !e.name.endsWith("_kernel_time") || !e.args?.op_name) continue;
  perOp.set(e.args.op_name, (perOp.get(e.args.op_name) ?? 0) + e.dur);
}
const ms = (us: number) => (us / modelRuns.length / 1000).toFixed(2).padStart(8);
const total = modelRuns.reduce((n, e) => n + e.dur, 0);
console.log(`block ${rows} × ${dim}, batch ${batch}, ${threads} threads: ${ms(total)} ms per run (mean of ${modelRuns.length} runs after a first one)`);
const gemmFlops = 2 * batch * rows * width;
for (const [op, us] of [...perOp].sort((a, b) => b[1] - a[1])) {
  const extra = op === "Gemm" ? `   ${(gemmFlops / (us / modelRuns.length) / 1e3).toFixed(1)} GFLOP/s` : "";
  console.log(`  ${op.padEnd(15)} ${ms(us)} ms  ${((100 * us) / total).toFixed(0).padStart(3)}%${extra}`);
}
