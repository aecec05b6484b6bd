/**
 * Baseline B's two graphs. A gather shard computes only its logits,
 *
 *   logits = h·W_sᵀ + b_s                                   ([B, V_s], all sent back)
 *
 * and the gather gateway, holding all V logits of a row, does the softmax:
 *
 *   z = logits / T,   logZ = max z + log Σ exp(z − max z),   (top_z, top_ids) = TopK(z, k)
 */
import { bytesOf, DataType, encodeModel } from "../../shared/onnx/graph-builder.js";

export function shardLogitsGraph(rows: number, dim: number, weight: Float32Array, bias: Float32Array | null): Uint8Array {
  const initializers = [{ name: "W", type: DataType.FLOAT, dims: [rows, dim], data: bytesOf(weight) }];
  if (bias) initializers.push({ name: "b", type: DataType.FLOAT, dims: [rows], data: bytesOf(bias) });
  return encodeModel({
    name: "gather_shard_logits",
    inputs: [{ name: "hidden", type: DataType.FLOAT, shape: ["batch", dim] }],
    outputs: [{ name: "logits", type: DataType.FLOAT, shape: ["batch", rows] }],
    nodes: [{ op: "Gemm", inputs: bias ? ["hidden", "W", "b"] : ["hidden", "W"], outputs: ["logits"], attributes: { transB: 1 } }],
    initializers,
  });
}

export function gatheredSoftmaxGraph(vocabSize: number): Uint8Array {
  return encodeModel({
    name: "gathered_softmax",
    inputs: [
      { name: "logits", type: DataType.FLOAT, shape: ["batch", vocabSize] },
      { name: "temperature", type: DataType.FLOAT, shape: [1] },
      { name: "k", type: DataType.INT64, shape: [1] },
    ],
    outputs: [
      { name: "log_z", type: DataType.FLOAT, shape: ["batch", 1] },
      { name: "top_z", type: DataType.FLOAT, shape: ["batch", "k"] },
      { name: "top_ids", type: DataType.INT64, shape: ["batch", "k"] },
    ],
    nodes: [
      { op: "Div", inputs: ["logits", "temperature"], outputs: ["z"] },
      { op: "ReduceMax", inputs: ["z"], outputs: ["m"], attributes: { axes: [1], keepdims: 1 } },
      { op: "Sub", inputs: ["z", "m"], outputs: ["shifted"] },
      { op: "Exp", inputs: ["shifted"], outputs: ["e"] },
      { op: "ReduceSum", inputs: ["e", "axes"], outputs: ["s"], attributes: { keepdims: 1 } },
      { op: "Log", inputs: ["s"], outputs: ["log_s"] },
      { op: "Add", inputs: ["m", "log_s"], outputs: ["log_z"] },
      { op: "TopK", inputs: ["z", "k"], outputs: ["top_z", "top_ids"], attributes: { axis: 1, largest: 1, sorted: 1 } },
    ],
    initializers: [{ name: "axes", type: DataType.INT64, dims: [1], data: bytesOf(new BigInt64Array([1n])) }],
  });
}
