/**
 * What serving a slice as several onnxruntime blocks costs per batch: one
 * process, the same slice built as 1 block and as the default ~8, batches run
 * alternately on both (so load from other processes hits both alike);
 * medians of the Partial computation alone (no gRPC).
 *
 *   npm run build && node dist/bench/blocks.js --rows 65536 --dim 1024
 */

import { rowsPerBlock } from "../services/shard/block-plan.js";
import { type PartialBatch, ShardSession } from "../services/shard/session.js";
import { defaultOptions } from "../shared/math/row-options.js";
import { ClassRange } from "../shared/ranges.js";
import { syntheticSlice } from "./synthetic-slice.js";

const { rows, dim, weight, threads, batches } = syntheticSlice();
const range = ClassRange.of(0, rows);
const slice = { rows, dim, weight, bias: null };
const whole = await ShardSession.create(range, slice, { threads, blockRows: rows });
const blocked = await ShardSession.create(range, slice, { threads });
console.log(
  `slice ${rows} × ${dim} F32 (${(rows * dim * 4) / 2 ** 20} MiB): 1 block vs ${blocked.blockCount} blocks of ${rowsPerBlock(rows, dim)} rows, ${threads} threads`,
);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
for (const batchRows of batches) {
  const batch: PartialBatch = {
    rows: batchRows,
    hidden: Float32Array.from({ length: batchRows * dim }, (_, i) => Math.sin(i)),
    topK: 5,
    options: defaultOptions(),
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
  console.log(
    `B=${String(batchRows).padStart(3)}  1 block ${one.toFixed(1).padStart(6)} ms (${gflops(one)} GFLOP/s)   ${blocked.blockCount} blocks ${many.toFixed(1).padStart(6)} ms (${gflops(many)} GFLOP/s)   ratio ${(many / one).toFixed(2)}`,
  );
}
await whole.close();
await blocked.close();
