/**
 * The command line and the weights shared by the micro-benchmarks of one
 * shard's session (blocks.ts, prepack.ts): a deterministic rows × dim slice
 * (a multiplicative hash, so no generator cost is measured) and the batch sizes.
 */
import { parseArgs } from "node:util";

export function syntheticSlice() {
  const { values } = parseArgs({
    options: {
      rows: { type: "string", default: "65536" },
      dim: { type: "string", default: "1024" },
      threads: { type: "string", default: "2" },
      batches: { type: "string", default: "1,8,32,128" },
    },
  });
  const rows = Number(values.rows);
  const dim = Number(values.dim);
  const weight = new Float32Array(rows * dim);
  for (let i = 0; i < weight.length; i++) weight[i] = (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  return { rows, dim, weight, threads: Number(values.threads), batches: values.batches!.split(",").map(Number) };
}
