/**
 * Why W is an initializer and not a run input: the same block graph with W
 * as a prepacked constant (in-memory external data, as the shard serves it)
 * and with W fed at every run (no copy at all, but Gemm cannot prepack it).
 * Runs alternate between the two sessions, so load from other processes hits
 * both alike; medians of the onnxruntime run alone.
 *
 *   npm run build && node dist/bench/prepack.js --rows 65536 --dim 1024
 */
import ort from "onnxruntime-node";
import { externalData, partialGraph } from "../services/shard/partial-graph.js";
import { DataType, bytesOf, encodeModel } from "../shared/onnx/graph-builder.js";
import { cpuSessionOptions } from "../shared/onnx/session-options.js";
import { syntheticSlice } from "./synthetic-slice.js";

const { rows, dim, weight, threads, batches } = syntheticSlice();
const options: ort.InferenceSession.SessionOptions = cpuSessionOptions(threads);

const prepacked = await ort.InferenceSession.create(partialGraph({ rows, dim, hasBias: false }), { ...options, externalData: externalData(weight, null) });
// The same computation with W as an input: Gemm → max → exp-sum (float64) → top-k.
const asInput = await ort.InferenceSession.create(
  encodeModel({
    name: "w_as_input",
    inputs: [
      { name: "hidden", type: DataType.FLOAT, shape: ["batch", dim] },
      { name: "W", type: DataType.FLOAT, shape: [rows, dim] },
      { name: "k", type: DataType.INT64, shape: [1] },
    ],
    outputs: [
      { name: "max", type: DataType.FLOAT, shape: ["batch", 1] },
      { name: "sum_exp", type: DataType.DOUBLE, shape: ["batch"] },
      { name: "top_logits", type: DataType.FLOAT, shape: ["batch", "k"] },
      { name: "top_indices", type: DataType.INT64, shape: ["batch", "k"] },
    ],
    nodes: [
      { op: "Gemm", inputs: ["hidden", "W"], outputs: ["z"], attributes: { transB: 1 } },
      { op: "ReduceMax", inputs: ["z"], outputs: ["max"], attributes: { axes: [1], keepdims: 1 } },
      { op: "Sub", inputs: ["z", "max"], outputs: ["shifted"] },
      { op: "Exp", inputs: ["shifted"], outputs: ["exps"] },
      { op: "Cast", inputs: ["exps"], outputs: ["exps64"], attributes: { to: DataType.DOUBLE } },
      { op: "ReduceSum", inputs: ["exps64", "sum_axes"], outputs: ["sum_exp"], attributes: { keepdims: 0 } },
      { op: "TopK", inputs: ["z", "k"], outputs: ["top_logits", "top_indices"], attributes: { axis: 1, largest: 1, sorted: 1 } },
    ],
    initializers: [{ name: "sum_axes", type: DataType.INT64, dims: [1], data: bytesOf(new BigInt64Array([1n])) }],
  }),
  options,
);
const W = new ort.Tensor("float32", weight, [rows, dim]);
console.log(`W ${rows} × ${dim} F32 (${(rows * dim * 4) / 2 ** 20} MiB), ${threads} threads: prepacked initializer vs W as a run input`);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
for (const batch of batches) {
  const hidden = new ort.Tensor("float32", Float32Array.from({ length: batch * dim }, (_, i) => Math.sin(i)), [batch, dim]);
  const k = new ort.Tensor("int64", new BigInt64Array([5n]), [1]);
  const feeds = {
    temperature: new ort.Tensor("float32", new Float32Array(batch).fill(1), [batch, 1]),
    targets: new ort.Tensor("int64", new BigInt64Array(batch), [batch, 1]),
  };
  const [packedMs, inputMs]: number[][] = [[], []];
  for (let rep = 0; rep < (batch <= 8 ? 31 : 9); rep++) {
    let t = performance.now();
    await prepacked.run({ hidden, k, ...feeds });
    packedMs!.push(performance.now() - t);
    t = performance.now();
    await asInput.run({ hidden, k, W });
    inputMs!.push(performance.now() - t);
  }
  const [p, i] = [median(packedMs!), median(inputMs!)];
  console.log(`B=${String(batch).padStart(3)}  prepacked ${p.toFixed(1).padStart(6)} ms   as input ${i.toFixed(1).padStart(6)} ms   input/prepacked ${(i / p).toFixed(2)}`);
}
await prepacked.release();
await asInput.release();
