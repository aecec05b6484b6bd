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
import { augmentedLength, augmentInPlace } from "../services/shard/augmented-block.js";
import { externalData, partialGraph } from "../services/shard/partial-graph.js";
import { cpuSessionOptions } from "../shared/onnx/session-options.js";
import { syntheticSlice } from "./synthetic-slice.js";

const { rows, dim, weight, threads, batches } = syntheticSlice();
const options: ort.InferenceSession.SessionOptions = cpuSessionOptions(threads);
const buffer = new Float32Array(augmentedLength(rows, dim));
buffer.set(weight);
const augmented = augmentInPlace(buffer, rows, dim, null);

const prepacked = await ort.InferenceSession.create(partialGraph({ rows, dim }), { ...options, externalData: externalData(augmented) });
const asInput = await ort.InferenceSession.create(partialGraph({ rows, dim }, { weightAsInput: true }), options);
const W = new ort.Tensor("float32", augmented, [augmented.length / (dim + 1), dim + 1]);
console.log(`W ${rows} × ${dim} F32 (${(rows * dim * 4) / 2 ** 20} MiB), ${threads} threads: prepacked initializer vs W as a run input`);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
for (const batch of batches) {
  const hidden = new ort.Tensor(
    "float32",
    Float32Array.from({ length: batch * (dim + 1) }, (_, i) => (i % (dim + 1) === dim ? 1 : Math.sin(i))),
    [batch, dim + 1],
  );
  const k = new ort.Tensor("int64", new BigInt64Array([5n]), [1]);
  const feeds = { targets: new ort.Tensor("int64", new BigInt64Array(batch), [batch, 1]) };
  const [packedMs, inputMs]: number[][] = [[], []];
  for (let rep = 0; rep < (batch <= 8 ? 31 : 9); rep++) {
    let t = performance.now();
    await prepacked.run({ hidden, k, ...feeds });
    packedMs!.push(performance.now() - t);
    t = performance.now();
    await asInput.run({ hidden, k, W, ...feeds });
    inputMs!.push(performance.now() - t);
  }
  const [p, i] = [median(packedMs!), median(inputMs!)];
  console.log(
    `B=${String(batch).padStart(3)}  prepacked ${p.toFixed(1).padStart(6)} ms   as input ${i.toFixed(1).padStart(6)} ms   input/prepacked ${(i / p).toFixed(2)}`,
  );
}
await prepacked.release();
await asInput.release();
