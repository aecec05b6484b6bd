/**
 * The ONNX graph of one block of a shard: `[B, d+1] → (max, exp-sum, top-k,
 * target logits)` over that block's rows of W, in the augmented layout of
 * augmented-block.ts (bias and temperature folded into the Gemm):
 *
 *   z = h'·W'ᵀ = (h·Wᵀ + b)/T,   top = TopK(z, k),   m = top[0],   t = z[targets]
 *   p = Softmax(z),   P = Σ_groups float64( Σ_{256 classes} float32 p ),   S = P / p[argmax]
 *
 * Every op after the Gemm is a pass over [B, V_block] memory, and at small d
 * (a recommendation head, d = 128) those passes cost as much as the Gemm. So
 * the graph keeps as few as it can: the max is TopK's first value (TopK runs
 * anyway, k ≥ 1), and the exp-sum comes from onnxruntime's fused Softmax
 * (max, exp and scale in one cache-resident sweep per row). Softmax sums its
 * exps in float32 lanes, which would lose precision over a million classes;
 * so S is not taken from it: p_i = exp(z_i − m)·r with r = p[argmax] the
 * scale it used, and P/r = Σ exp(z_i − m) with P summed here in float32
 * within groups of 256 classes (relative error ≤ 256·2⁻²⁴ in the worst case,
 * ~1e-7 in practice) and in float64 across groups, so the precision does not
 * depend on the slice size. Measured against the previous graph (bias
 * through Gemm's C, a Div by T, ReduceMax, Sub, Exp, Cast of every exp to
 * float64), over a whole 512 MiB head on 2 threads: 213 → 134 ms for the
 * recommendation head (1048576 × 128) at 64 rows, 213 → 191 ms for the LLM
 * head (131072 × 1024) at 128. Where a block's time goes, op by op:
 * `node dist/bench/graph-profile.js --rows 131072 --dim 128 --batch 64`.
 *
 * W' is an initializer whose bytes are *external*: the model carries only its
 * name, and the caller hands onnxruntime the bytes as in-memory external data
 * when it creates the session (`externalData(…)`). So the weights are never
 * copied into a protobuf, no model is bounded by protobuf's 2 GiB, and
 * onnxruntime still sees a constant it can prepack for Gemm (measured
 * 1.1–1.8× faster than feeding W as a run input).
 */
import { bytesOf, DataType, encodeModel, type Graph, type Node } from "../../shared/onnx/graph-builder.js";
import { paddedRows, SUM_GROUP } from "./augmented-block.js";

export interface SliceWeights {
  /** Classes in the slice (V_s). */
  rows: number;
  dim: number;
  /** V_s × d row-major. */
  weight: Float32Array;
  bias: Float32Array | null;
}

export interface BlockShape {
  /** Classes of the block, before padding. */
  rows: number;
  dim: number;
}

export const INPUTS = { hidden: "hidden", k: "k", targets: "targets" } as const;
export const OUTPUTS = {
  max: "max",
  /** Σ p over the block, float64. */
  probSum: "prob_sum",
  /** p at the block's argmax: the scale Softmax applied, so exp-sum = probSum / probOfMax. */
  probOfMax: "prob_of_max",
  topLogits: "top_logits",
  topIndices: "top_indices",
  targetLogits: "target_logits",
  /** z itself, [B, padded block rows]: fetched only by the full distribution and sampling (padding columns are −∞). */
  logits: "logits",
  /** Softmax(z) over the block, [B, padded block rows]: p / probOfMax = exp(z − max), fetched only for top-p's mass grid. */
  probs: "probs",
} as const;

/** What a Partial fetches: every output but `logits` and `probs`, so a Partial never copies [B, V_block] out of onnxruntime. */
export const PARTIAL_FETCHES: readonly string[] = Object.values(OUTPUTS).filter((name) => name !== OUTPUTS.logits && name !== OUTPUTS.probs);

/** Name of the in-memory "file" holding W', as the model refers to it. */
const WEIGHT_FILE = "W.bin";

/**
 * `weightAsInput` feeds W' at every run instead (no copy, but no prepacking
 * either): only bench/prepack.ts builds it, to measure that choice.
 */
export function partialGraph(block: BlockShape, { weightAsInput = false } = {}): Uint8Array {
  const rows = paddedRows(block.rows);
  const width = block.dim + 1;
  const weight = { name: "W", type: DataType.FLOAT, dims: [rows, width] };
  const initializers: Graph["initializers"] = [
    ...(weightAsInput ? [] : [{ ...weight, data: new Uint8Array(0), external: { location: WEIGHT_FILE, offset: 0, length: rows * width * 4 } }]),
    int64s("axis1", [1]),
    int64s("axis2", [2]),
    int64s("first", [0]),
    int64s("second", [1]),
    // [B, V] → [B, V/256, 256]; 0 keeps the batch dimension.
    int64s("groups", [0, rows / SUM_GROUP, SUM_GROUP]),
  ];
  const nodes: Node[] = [
    { op: "Gemm", inputs: [INPUTS.hidden, "W"], outputs: [OUTPUTS.logits], attributes: { transB: 1 } },
    // ONNX TopK orders equal values by smaller index, which is our tie rule; padding rows come last.
    { op: "TopK", inputs: [OUTPUTS.logits, INPUTS.k], outputs: [OUTPUTS.topLogits, OUTPUTS.topIndices], attributes: { axis: 1, largest: 1, sorted: 1 } },
    { op: "GatherElements", inputs: [OUTPUTS.logits, INPUTS.targets], outputs: [OUTPUTS.targetLogits], attributes: { axis: 1 } },
    { op: "Slice", inputs: [OUTPUTS.topLogits, "first", "second", "axis1"], outputs: [OUTPUTS.max] },
    { op: "Slice", inputs: [OUTPUTS.topIndices, "first", "second", "axis1"], outputs: ["argmax"] },
    { op: "Softmax", inputs: [OUTPUTS.logits], outputs: [OUTPUTS.probs], attributes: { axis: 1 } },
    { op: "GatherElements", inputs: [OUTPUTS.probs, "argmax"], outputs: [OUTPUTS.probOfMax], attributes: { axis: 1 } },
    { op: "Reshape", inputs: [OUTPUTS.probs, "groups"], outputs: ["grouped"] },
    { op: "ReduceSum", inputs: ["grouped", "axis2"], outputs: ["group_sums"], attributes: { keepdims: 0 } },
    { op: "Cast", inputs: ["group_sums"], outputs: ["group_sums64"], attributes: { to: DataType.DOUBLE } },
    { op: "ReduceSum", inputs: ["group_sums64", "axis1"], outputs: [OUTPUTS.probSum], attributes: { keepdims: 0 } },
  ];
  return encodeModel({
    name: "shardmax_partial",
    inputs: [
      { name: INPUTS.hidden, type: DataType.FLOAT, shape: ["batch", width] },
      { name: INPUTS.k, type: DataType.INT64, shape: [1] },
      { name: INPUTS.targets, type: DataType.INT64, shape: ["batch", "targets"] },
      ...(weightAsInput ? [{ name: weight.name, type: weight.type, shape: weight.dims }] : []),
    ],
    outputs: [
      { name: OUTPUTS.max, type: DataType.FLOAT, shape: ["batch", 1] },
      { name: OUTPUTS.probSum, type: DataType.DOUBLE, shape: ["batch"] },
      { name: OUTPUTS.probOfMax, type: DataType.FLOAT, shape: ["batch", 1] },
      { name: OUTPUTS.topLogits, type: DataType.FLOAT, shape: ["batch", "k"] },
      { name: OUTPUTS.topIndices, type: DataType.INT64, shape: ["batch", "k"] },
      { name: OUTPUTS.targetLogits, type: DataType.FLOAT, shape: ["batch", "targets"] },
      { name: OUTPUTS.logits, type: DataType.FLOAT, shape: ["batch", rows] },
      { name: OUTPUTS.probs, type: DataType.FLOAT, shape: ["batch", rows] },
    ],
    nodes,
    initializers,
  });
}

/** The bytes for `partialGraph`'s external initializer (W', augmented-block.ts): `sessionOptions.externalData`. */
export function externalData(augmented: Float32Array): { path: string; data: Uint8Array }[] {
  return [{ path: WEIGHT_FILE, data: bytesOf(augmented) }];
}

function int64s(name: string, values: number[]): Graph["initializers"][number] {
  return { name, type: DataType.INT64, dims: [values.length], data: bytesOf(new BigInt64Array(values.map(BigInt))) };
}
