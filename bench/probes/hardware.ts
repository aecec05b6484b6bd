/**
 * What this machine can do, measured here and now, and what one shard batch
 * reaches against it:
 *  - memory bandwidth: the best time of an onnxruntime ReduceSum streaming
 *    the head's weights, over a few row widths (bandwidth = bytes / time);
 *  - GEMM peak: the best time of a square n×n×n Gemm (2n³ flops);
 *  - the shard session (ShardSession, the real graph) and a bare Gemm over
 *    the same whole head at several batch sizes and thread counts.
 * One JSON `result` event on stdout.
 *
 *   node dist/bench/probes/hardware.js --weights builtin:VxD --batches 1,64,128 --threads 1,2 --repeat 7 --gemm-n 2048
 */
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { ShardSession } from "../../services/shard/session.js";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { bytesOf, DataType, encodeModel } from "../../shared/onnx/graph-builder.js";
import { cpuSessionOptions } from "../../shared/onnx/session-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { emit } from "../child-process.js";
import { shardLogitsGraph } from "../gather/graphs.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string" },
    batches: { type: "string", default: "1,64,128" },
    threads: { type: "string", default: "1,2" },
    repeat: { type: "string", default: "7" },
    "gemm-n": { type: "string", default: "2048" },
    "paired-rounds": { type: "string", default: "7" },
  },
});
const repeat = Number(values.repeat);
const threadCounts = values.threads!.split(",").map(Number);
const batches = values.batches!.split(",").map(Number);
const maxThreads = Math.max(...threadCounts);

export interface Timing {
  minMs: number;
  medianMs: number;
}

async function time(run: () => Promise<unknown>, times = repeat): Promise<Timing> {
  await run(); // warm: first-run allocations and page faults
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await run();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { minMs: ms[0]!, medianMs: ms[Math.floor(ms.length / 2)]! };
}

const sessionOptions = (threads: number): ort.InferenceSession.SessionOptions => cpuSessionOptions(threads);

const head = await openHead(values.weights!);
const { vocabSize: V, dim: d } = head.description;
const slice = await head.readRows(ClassRange.of(0, V));
const weightBytes = V * d * 4;

/** ReduceSum along the rows of the weights viewed as [n, width]: one read of every weight. */
async function streamSession(width: number): Promise<{ run: () => Promise<unknown>; release: () => Promise<void> }> {
  const rows = (V * d) / width;
  const session = await ort.InferenceSession.create(
    encodeModel({
      name: "stream",
      inputs: [{ name: "x", type: DataType.FLOAT, shape: [rows, width] }],
      outputs: [{ name: "s", type: DataType.FLOAT, shape: [rows, 1] }],
      nodes: [{ op: "ReduceSum", inputs: ["x", "axes"], outputs: ["s"], attributes: { keepdims: 1 } }],
      initializers: [{ name: "axes", type: DataType.INT64, dims: [1], data: bytesOf(new BigInt64Array([1n])) }],
    }),
    sessionOptions(maxThreads),
  );
  const input = new ort.Tensor("float32", slice.weight, [rows, width]);
  return { run: () => session.run({ x: input }), release: () => session.release() };
}

// Memory bandwidth: ReduceSum along the rows of the weights viewed as [n, w] for several row widths
// (onnxruntime's reduction speed depends on the shape), best run of the best shape.
const streamed = { minMs: Infinity, medianMs: Infinity };
let streamWidth = 0;
for (const width of [16, 128, 1024].filter((w) => (V * d) % w === 0)) {
  const reduce = await streamSession(width);
  const timing = await time(() => reduce.run(), repeat * 2);
  await reduce.release();
  if (timing.minMs < streamed.minMs) {
    Object.assign(streamed, timing);
    streamWidth = width;
  }
}
if (streamWidth === 0) throw new Error(`no row width of 16, 128 or 1024 divides V·d = ${V * d}`);
const stream = streamed;
const bandwidthBytesPerS = weightBytes / (stream.minMs / 1000);

// GEMM peak: square n×n×n, best of `repeat`.
const n = Number(values["gemm-n"]);
const square = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
const gemm = await ort.InferenceSession.create(
  encodeModel({
    name: "square",
    inputs: [{ name: "a", type: DataType.FLOAT, shape: [n, n] }],
    outputs: [{ name: "c", type: DataType.FLOAT, shape: [n, n] }],
    nodes: [{ op: "Gemm", inputs: ["a", "B"], outputs: ["c"] }],
    initializers: [{ name: "B", type: DataType.FLOAT, dims: [n, n], data: bytesOf(square) }],
  }),
  sessionOptions(maxThreads),
);
const squareInput = new ort.Tensor("float32", square, [n, n]);
const squareTime = await time(() => gemm.run({ a: squareInput }));
const gemmPeakFlops = (2 * n ** 3) / (squareTime.minMs / 1000);

// The shard's real graph and a bare Gemm (+bias) over the whole head.
const hiddenOf = (rows: number) => new Float32Array(rows * d).map((_, i) => Math.sin(i) * 0.5);
const wholeHead = (threads: number) => ShardSession.create(ClassRange.of(0, V), { rows: V, dim: d, weight: slice.weight, bias: slice.bias }, { threads });
/** One shard batch of `rows` rows over the whole head, top-10, no targets. */
const shardRun = (shard: ShardSession, rows: number) => () =>
  shard.run({ rows, hidden: hiddenOf(rows), topK: 10, options: defaultOptions(), targetCounts: new Uint32Array(rows), targetIds: new Uint32Array(0) });
const kernels: { graph: string; threads: number; batch: number; timing: Timing }[] = [];
for (const threads of threadCounts) {
  const shard = await wholeHead(threads);
  for (const batch of batches) {
    kernels.push({ graph: "shard", threads, batch, timing: await time(shardRun(shard, batch), batch >= 128 ? Math.max(3, repeat >> 1) : repeat) });
  }
  await shard.close();
  const bare = await ort.InferenceSession.create(shardLogitsGraph(V, d, slice.weight, slice.bias), sessionOptions(threads));
  for (const batch of batches) {
    const hidden = new ort.Tensor("float32", hiddenOf(batch), [batch, d]);
    kernels.push({ graph: "gemm", threads, batch, timing: await time(() => bare.run({ hidden }), batch >= 128 ? Math.max(3, repeat >> 1) : repeat) });
  }
  await bare.release();
}

// Paired rounds: the machine's memory and CPU speed drift by tens of percent within minutes, so
// the shard batch is also measured in alternation with what bounds it, each round giving a ratio
// under the same conditions: batch 1 against streaming the weights once, the largest batch of at
// most 128 rows against the square Gemm.
const pairedRounds = Number(values["paired-rounds"]);
const bigBatch = Math.max(...batches.filter((b) => b >= 64 && b <= 128));
const paired = { bandwidth: [] as number[], gemm: [] as number[], bigBatch: Number.isFinite(bigBatch) ? bigBatch : null };
if (pairedRounds > 0) {
  const shard = await wholeHead(maxThreads);
  const reduce = await streamSession(streamWidth);
  for (let round = 0; round < pairedRounds; round++) {
    const streamMs = (await time(() => reduce.run(), 3)).minMs;
    paired.bandwidth.push(streamMs / (await time(shardRun(shard, 1), 3)).medianMs);
    if (paired.bigBatch !== null) {
      const squareMs = (await time(() => gemm.run({ a: squareInput }), 2)).minMs;
      const shardMs = (await time(shardRun(shard, paired.bigBatch), 1)).medianMs;
      paired.gemm.push((2 * paired.bigBatch * V * d) / shardMs / ((2 * n ** 3) / squareMs));
    }
  }
  await reduce.release();
  await shard.close();
}
await gemm.release();

emit({
  event: "result",
  vocabSize: V,
  dim: d,
  weightBytes,
  stream,
  bandwidthBytesPerS,
  gemmN: n,
  square: squareTime,
  gemmPeakFlops,
  threads: maxThreads,
  kernels,
  paired,
});
process.exit(0);
