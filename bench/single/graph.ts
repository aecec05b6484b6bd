/**
 * Baseline A's model: the whole head in one onnxruntime graph, as a user
 * without shardmax would export it — Gemm, Softmax over all V classes, TopK:
 *
 *   z = (h·Wᵀ + b) / T,   p = softmax(z),   (top_p, top_ids) = TopK(p, k),   top_z = z[top_ids]
 */
import { bytesOf, DataType, encodeModel } from "../../shared/onnx/graph-builder.js";

export function wholeHeadGraph(vocabSize: number, dim: number, weight: Float32Array, bias: Float32Array | null): Uint8Array {
  const initializers = [{ name: "W", type: DataType.FLOAT, dims: [vocabSize, dim], data: bytesOf(weight) }];
  if (bias) initializers.push({ name: "b", type: DataType.FLOAT, dims: [vocabSize], data: bytesOf(bias) });
  return encodeModel({
    name: "whole_head_softmax",
    inputs: [
      { name: "hidden", type: DataType.FLOAT, shape: ["batch", dim] },
      { name: "temperature", type: DataType.FLOAT, shape: [1] },
      { name: "k", type: DataType.INT64, shape: [1] },
    ],
    outputs: [
      { name: "top_p", type: DataType.FLOAT, shape: ["batch", "k"] },
      { name: "top_ids", type: DataType.INT64, shape: ["batch", "k"] },
      { name: "top_z", type: DataType.FLOAT, shape: ["batch", "k"] },
    ],
    nodes: [
      { op: "Gemm", inputs: bias ? ["hidden", "W", "b"] : ["hidden", "W"], outputs: ["logits"], attributes: { transB: 1 } },
      { op: "Div", inputs: ["logits", "temperature"], outputs: ["z"] },
      { op: "Softmax", inputs: ["z"], outputs: ["p"], attributes: { axis: 1 } },
      { op: "TopK", inputs: ["p", "k"], outputs: ["top_p", "top_ids"], attributes: { axis: 1, largest: 1, sorted: 1 } },
      { op: "GatherElements", inputs: ["z", "top_ids"], outputs: ["top_z"], attributes: { axis: 1 } },
    ],
    initializers,
  });
}
