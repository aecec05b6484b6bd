/**
 * The ONNX graph of one shard: `[B, d] → (max, exp-sum, top-k, target logits)`
 * over its slice of W. Gemm with transB=1 reads W row-major as stored (and was
 * measured fastest, ahead of MatMul+Add); the exp-sum is accumulated in float64
 * so a slice of a million classes keeps its precision.
 *
 *   z = (h·Wᵀ + b) / T,  m = max z,  S = Σ exp(z − m),  top = TopK(z, k),  t = z[targets]
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

export const INPUTS = { hidden: "hidden", temperature: "temperature", k: "k", targets: "targets" } as const;
export const OUTPUTS = { max: "max", sumExp: "sum_exp", topLogits: "top_logits", topIndices: "top_indices", targetLogits: "target_logits" } as const;

export function partialGraph(slice: SliceWeights): Uint8Array {
  const gemmInputs = [INPUTS.hidden, "W"];
  const initializers: Graph["initializers"] = [
    { name: "W", type: DataType.FLOAT, dims: [slice.rows, slice.dim], data: bytesOf(slice.weight) },
    { name: "sum_axes", type: DataType.INT64, dims: [1], data: bytesOf(new BigInt64Array([1n])) },
  ];
  if (slice.bias) {
    gemmInputs.push("b");
    initializers.push({ name: "b", type: DataType.FLOAT, dims: [slice.rows], data: bytesOf(slice.bias) });
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
      { name: INPUTS.hidden, type: DataType.FLOAT, shape: ["batch", slice.dim] },
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
