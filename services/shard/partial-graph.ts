/**
 * The ONNX graph of one block of a shard: `[B, d] → (max, exp-sum, top-k,
 * target logits)` over that block's rows of W. Gemm with transB=1 reads W
 * row-major as stored (and was measured fastest, ahead of MatMul+Add); the
 * exp-sum is accumulated in float64 so a block of a million classes keeps its
 * precision.
 *
 *   z = (h·Wᵀ + b) / T,  m = max z,  S = Σ exp(z − m),  top = TopK(z, k),  t = z[targets]
 *
 * W and b are initializers whose bytes are *external*: the model carries only
 * their names, and the caller hands onnxruntime the bytes as in-memory
 * external data when it creates the session (`externalData(…)`). So the
 * weights are never copied into a protobuf, no model is bounded by
 * protobuf's 2 GiB, and onnxruntime still sees constants it can prepack for
 * Gemm (measured 1.1–1.8× faster than feeding W as a run input).
 */
import { DataType, bytesOf, encodeModel, type Graph, type Node } from "../../shared/onnx/graph-builder.js";

export interface SliceWeights {
  /** Classes in the slice (V_s). */
  rows: number;
  dim: number;
  /** V_s × d row-major. */
  weight: Float32Array;
  bias: Float32Array | null;
}

export interface BlockShape {
  rows: number;
  dim: number;
  hasBias: boolean;
}

export const INPUTS = { hidden: "hidden", temperature: "temperature", k: "k", targets: "targets" } as const;
export const OUTPUTS = { max: "max", sumExp: "sum_exp", topLogits: "top_logits", topIndices: "top_indices", targetLogits: "target_logits" } as const;

/** Names of the in-memory "files" holding W and b, as the model refers to them. */
const WEIGHT_FILE = "W.bin";
const BIAS_FILE = "b.bin";

export function partialGraph(block: BlockShape): Uint8Array {
  const gemmInputs = [INPUTS.hidden, "W"];
  const initializers: Graph["initializers"] = [
    external("W", [block.rows, block.dim], WEIGHT_FILE),
    { name: "sum_axes", type: DataType.INT64, dims: [1], data: bytesOf(new BigInt64Array([1n])) },
  ];
  if (block.hasBias) {
    gemmInputs.push("b");
    initializers.push(external("b", [block.rows], BIAS_FILE));
  }
  const nodes: Node[] = [
    { op: "Gemm", inputs: gemmInputs, outputs: ["logits"], attributes: { transB: 1 } },
    { op: "Div", inputs: ["logits", INPUTS.temperature], outputs: ["z"] },
    { op: "ReduceMax", inputs: ["z"], outputs: [OUTPUTS.max], attributes: { axes: [1], keepdims: 1 } },
    { op: "Sub", inputs: ["z", OUTPUTS.max], outputs: ["shifted"] },
    { op: "Exp", inputs: ["shifted"], outputs: ["exps"] },
    { op: "Cast", inputs: ["exps"], outputs: ["exps64"], attributes: { to: DataType.DOUBLE } },
    { op: "ReduceSum", inputs: ["exps64", "sum_axes"], outputs: [OUTPUTS.sumExp], attributes: { keepdims: 0 } },
    // ONNX TopK orders equal values by smaller index, which is our tie rule.
    { op: "TopK", inputs: ["z", INPUTS.k], outputs: [OUTPUTS.topLogits, OUTPUTS.topIndices], attributes: { axis: 1, largest: 1, sorted: 1 } },
    { op: "GatherElements", inputs: ["z", INPUTS.targets], outputs: [OUTPUTS.targetLogits], attributes: { axis: 1 } },
  ];
  return encodeModel({
    name: "shardmax_partial",
    inputs: [
      { name: INPUTS.hidden, type: DataType.FLOAT, shape: ["batch", block.dim] },
      { name: INPUTS.temperature, type: DataType.FLOAT, shape: ["batch", 1] },
      { name: INPUTS.k, type: DataType.INT64, shape: [1] },
      { name: INPUTS.targets, type: DataType.INT64, shape: ["batch", "targets"] },
    ],
    outputs: [
      { name: OUTPUTS.max, type: DataType.FLOAT, shape: ["batch", 1] },
      { name: OUTPUTS.sumExp, type: DataType.DOUBLE, shape: ["batch"] },
      { name: OUTPUTS.topLogits, type: DataType.FLOAT, shape: ["batch", "k"] },
      { name: OUTPUTS.topIndices, type: DataType.INT64, shape: ["batch", "k"] },
      { name: OUTPUTS.targetLogits, type: DataType.FLOAT, shape: ["batch", "targets"] },
    ],
    nodes,
    initializers,
  });
}

/** The bytes for `partialGraph`'s external initializers: `sessionOptions.externalData`. */
export function externalData(weight: Float32Array, bias: Float32Array | null): { path: string; data: Uint8Array }[] {
  const files = [{ path: WEIGHT_FILE, data: bytesOf(weight) }];
  if (bias) files.push({ path: BIAS_FILE, data: bytesOf(bias) });
  return files;
}

function external(name: string, dims: number[], location: string): Graph["initializers"][number] {
  const length = dims.reduce((a, b) => a * b, 4);
  return { name, type: DataType.FLOAT, dims, data: new Uint8Array(0), external: { location, offset: 0, length } };
}
