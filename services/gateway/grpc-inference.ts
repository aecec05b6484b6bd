/**
 * The gRPC adapter of the Open Inference Protocol: `inference.GRPCInferenceService`
 * over the core, added to the gateway's one gRPC server beside
 * `shardmax.v1.Softmax`. Inputs come as `raw_input_contents` (one buffer per
 * input, FP16 only there) or typed `contents`; outputs answer in kind — raw
 * buffers for a raw request, typed contents for a typed one. Errors are gRPC
 * statuses naming the field, with shardmax's code in the metadata.
 */
import type * as grpc from "@grpc/grpc-js";
import { invalidField } from "../../shared/errors.js";
import type {
  InferParameterMessage,
  InferTensorContentsMessage,
  ModelInferRequestMessage,
  ModelMetadataRequestMessage,
  ModelReadyRequestMessage,
} from "../../shared/grpc/messages.js";
import { inferenceDefinition, inferenceService } from "../../shared/grpc/proto.js";
import type { ServiceModule } from "../../shared/grpc/reflection.js";
import type { GatewayCore } from "./core.js";
import { grpcUnary } from "./grpc-unary.js";
import { recordGrpcRequest } from "./request-metrics.js";
import { outputBytes, queryFromV2, type V2InferRequest, v2Outputs } from "./v2-infer.js";
import { checkModel, MODEL_VERSION, v2ModelMetadata, v2ServerMetadata } from "./v2-model.js";
import type { V2Input, V2Param, V2Params } from "./v2-tensors.js";

export interface InferenceServiceOptions {
  core: GatewayCore;
  modelName: string;
}

type ParameterMessage = InferParameterMessage;
type ContentsField = keyof InferTensorContentsMessage;

/** The typed contents field of each datatype the model takes or gives. */
const CONTENTS_FIELD: Record<string, ContentsField | undefined> = { FP32: "fp32Contents", FP64: "fp64Contents", INT64: "int64Contents" };

/** `inference.GRPCInferenceService` as a module of the gateway's gRPC server. */
export function inferenceModule(options: InferenceServiceOptions): ServiceModule {
  return { definition: inferenceDefinition(), names: ["inference.GRPCInferenceService"], addTo: (server) => addInferenceService(server, options) };
}

export function addInferenceService(server: grpc.Server, { core, modelName }: InferenceServiceOptions): void {
  server.addService(inferenceService().service, {
    serverLive: grpcUnary(() => ({ live: true })),
    serverReady: grpcUnary(() => ({ ready: core.readiness().ready })),
    modelReady: grpcUnary((request: ModelReadyRequestMessage) => {
      checkModel(modelName, request.name, request.version);
      return { ready: core.readiness().ready };
    }),
    serverMetadata: grpcUnary(() => v2ServerMetadata()),
    modelMetadata: grpcUnary((request: ModelMetadataRequestMessage) => {
      checkModel(modelName, request.name, request.version);
      return v2ModelMetadata(core, modelName);
    }),
    modelInfer: grpcUnary((request: ModelInferRequestMessage, deadline, requestId) =>
      recordGrpcRequest(core, "grpc_inference", requestId, async () => {
        checkModel(modelName, request.modelName, request.modelVersion);
        const raw = request.rawInputContents.length > 0;
        const { query, plan } = queryFromV2(inferRequest(request));
        const tensors = v2Outputs(await core.query(query, deadline), plan);
        const outputs = tensors.map(({ name, datatype, shape, values }) => ({
          name,
          datatype,
          shape,
          ...(raw ? {} : { contents: { [CONTENTS_FIELD[datatype]!]: Array.from(values) } }),
        }));
        return { modelName, modelVersion: MODEL_VERSION, id: request.id, outputs, rawOutputContents: raw ? tensors.map(outputBytes) : [] };
      }),
    ),
  });
}

/** The message as the V2 request every adapter shares: raw buffers or typed contents become each input's values. */
function inferRequest(message: ModelInferRequestMessage): V2InferRequest {
  const raw = message.rawInputContents;
  if (raw.length > 0 && raw.length !== message.inputs.length) {
    throw invalidField("raw_input_contents", `has ${raw.length} buffers for ${message.inputs.length} inputs: send one per input, in order`);
  }
  const inputs = message.inputs.map((input, i): V2Input => {
    const base = { name: input.name, datatype: input.datatype, shape: input.shape, parameters: parameters(input.parameters) };
    if (raw.length > 0) {
      if (input.contents) throw invalidField(`${input.name}.contents`, "must be left out when raw_input_contents is used");
      return { ...base, raw: raw[i]! };
    }
    const field = CONTENTS_FIELD[input.datatype];
    if (!input.contents) throw invalidField(`${input.name}.contents`, "is required (or raw_input_contents)");
    if (input.datatype === "FP16") throw invalidField(`${input.name}.contents`, "FP16 has no typed contents: send it in raw_input_contents");
    // Any other datatype without typed contents here is one the model does not take: queryFromV2 refuses it by name.
    if (!field) return { ...base, values: [] };
    const other = Object.entries(input.contents).find(([key, list]) => key !== field && Array.isArray(list) && list.length > 0);
    if (other) throw invalidField(`${input.name}.contents`, `${input.datatype} values go in ${snake(String(field))}, not ${snake(other[0])}`);
    return { ...base, values: input.contents[field] as number[] };
  });
  return {
    inputs,
    outputs: message.outputs.map((o) => ({ name: o.name, parameters: parameters(o.parameters) })),
    parameters: parameters(message.parameters),
  };
}

function parameters(map: Record<string, ParameterMessage> | undefined): V2Params {
  const out: V2Params = {};
  for (const [key, p] of Object.entries(map ?? {})) {
    const value: V2Param | undefined = p.parameterChoice === undefined ? undefined : p[p.parameterChoice];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** proto-loader's camelCase field name as the .proto spells it. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
