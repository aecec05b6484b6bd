/**
 * What serving a slice as several onnxruntime blocks costs per batch: one
 * process, the same slice built as 1 block and as the default ~8, batches run
 * alternately on both (so load from other processes hits both alike);
 * medians of the Partial computation alone (no gRPC).
 *
 *   npm run build && node dist/bench/blocks.js --rows 65536 --dim 1024
 */
import { parseArgs } from "node:util";
import { ShardSession, type PartialBatch } from "../services/shard/session.js";
import { rowsPerBlock } from "../services/shard/block-plan.js";
import { ClassRange } from "../shared/ranges.js";

const { values: args } = parseArgs({
  options: { rows: { type: "string", default: "65536" }, dim: { type: "string", default: "1024" }, threads: { type: "string", default: "2" }, batches: { type: "string", default: "1,8,32,128" } },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const weight = new Float32Array(rows * dim);
for (let i = 0; i < weight.length; i++) weight[i] = (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.2;
const range = ClassRange.of(0, rows);
const slice = { rows, dim, weight, bias: null };
const threads = Number(args.threads);
const whole = await ShardSession.create(range, slice, { threads, blockRows: rows });
const blocked = await ShardSession.create(range, slice, { threads });
console.log(`slice ${rows} × ${dim} F32 (${(rows * dim * 4) / 2 ** 20} MiB): 1 block vs ${blocked.blockCount} blocks of ${rowsPerBlock(rows, dim)} rows, ${threads} threads`);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
for (const batchRows of args.batches!.split(",").map(Number)) {
  const batch: PartialBatch = {
    rows: batchRows,
    hidden: Float32Array.from({ length: batchRows * dim }, (_, i) => Math.sin(i)),
    topK: 5,
    temperature: new Float32Array(batchRows).fill(1),
    targetCounts: new Uint32Array(batchRows),
    targetIds: new Uint32Array(0),
  };
  const times: [number[], number[]] = [[], []];
  const reps = batchRows <= 8 ? 41 : 11;
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, session] of [whole, blocked].entries()) {
      const t = performance.now();
      await session.run(batch);
      times[i]!.push(performance.now() - t);
    }
  }
  const [one, many] = times.map(median) as [number, number];
  const gflops = (ms: number) => ((2 * batchRows * rows * dim) / ms / 1e6).toFixed(0);
  console.log(`B=${String(batchRows).padStart(3)}  1 block ${one.toFixed(1).padStart(6)} ms (${gflops(one)} GFLOP/s)   ${blocked.blockCount} blocks ${many.toFixed(1).padStart(6)} ms (${gflops(many)} GFLOP/s)   ratio ${(many / one).toFixed(2)}`);
}
await whole.close();
await blocked.close();
