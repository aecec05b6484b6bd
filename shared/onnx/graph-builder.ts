/**
 * Writes small ONNX graphs in memory (no python, no onnx package at run time):
 * a tiny builder over the ONNX protobuf subset in `onnx-subset.proto`.
 */
import { join } from "node:path";
import protobuf from "protobufjs";
import { packageRoot } from "../package-root.js";

export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** A dimension is a fixed size or a symbolic name (e.g. "batch"). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: DataTypeCode;
  shape: Dim[];
}

export type AttributeValue = number | number[] | string | { float: number };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

export interface Initializer {
  name: string;
  type: DataTypeCode;
  dims: number[];
  /** Little-endian raw bytes of the tensor; empty when `external` names where they are. */
  data: Uint8Array;
  /** The bytes live outside the model, in a named buffer handed to onnxruntime at session creation. */
  external?: { location: string; offset: number; length: number };
}

export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers: Initializer[];
}

const OPSET = 17;
const IR_VERSION = 8;

let modelType: protobuf.Type | undefined;

function loadModelType(): protobuf.Type {
  if (modelType) return modelType;
  const root = protobuf.loadSync(join(packageRoot(), "shared", "onnx", "onnx-subset.proto"));
  modelType = root.lookupType("onnx.ModelProto");
  return modelType;
}

function valueInfo(v: ValueInfo): object {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.type,
        shape: { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === "number") return { name, type: 2, i: value };
  if (typeof value === "string") return { name, type: 3, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: 7, ints: value };
  return { name, type: 1, f: value.float };
}

// TensorProto.DataLocation: 0 DEFAULT (raw_data), 1 EXTERNAL (external_data key/value pairs).
const EXTERNAL = 1;

function initializer(t: Initializer): object {
  if (!t.external) return { name: t.name, dataType: t.type, dims: t.dims, rawData: t.data };
  const { location, offset, length } = t.external;
  const externalData = Object.entries({ location, offset: String(offset), length: String(length) }).map(([key, value]) => ({ key, value }));
  return { name: t.name, dataType: t.type, dims: t.dims, dataLocation: EXTERNAL, externalData };
}

/** Serialises a graph into an ONNX model (opset 17) ready for InferenceSession.create. */
export function encodeModel(graph: Graph): Uint8Array {
  const type = loadModelType();
  const message = type.fromObject({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "shardmax",
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: graph.initializers.map(initializer),
      node: graph.nodes.map((n, i) => ({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return type.encode(message).finish();
}

export function bytesOf(array: Float32Array | BigInt64Array | Float64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
