/**
 * The wire messages by their role, from the types generated out of the .proto
 * files (`npm run gen:proto` → shared/grpc/generated; a test checks they are
 * current). `…Message` is a message as received (defaults filled in); the
 * plain names are what a sender may pass.
 */

export type { ProtoGrpcType as InferenceProto } from "./generated/grpc_service.js";
export type { InferParameter__Output as InferParameterMessage } from "./generated/inference/InferParameter.js";
export type { InferTensorContents__Output as InferTensorContentsMessage } from "./generated/inference/InferTensorContents.js";
export type { ModelInferRequest__Output as ModelInferRequestMessage } from "./generated/inference/ModelInferRequest.js";
export type { ModelInferResponse } from "./generated/inference/ModelInferResponse.js";
export type { ModelMetadataRequest__Output as ModelMetadataRequestMessage } from "./generated/inference/ModelMetadataRequest.js";
export type { ModelReadyRequest__Output as ModelReadyRequestMessage } from "./generated/inference/ModelReadyRequest.js";
export type { ProtoGrpcType as ShardProto } from "./generated/shard.js";
export type {
  DistributionChunk as DistributionChunkOut,
  DistributionChunk__Output as DistributionChunkMessage,
} from "./generated/shardmax/v1/DistributionChunk.js";
export type { DistributionRequest, DistributionRequest__Output as DistributionRequestMessage } from "./generated/shardmax/v1/DistributionRequest.js";
export type { LogitsChunk, LogitsChunk__Output as LogitsChunkMessage } from "./generated/shardmax/v1/LogitsChunk.js";
export type { LogitsRequest, LogitsRequest__Output as LogitsRequestMessage } from "./generated/shardmax/v1/LogitsRequest.js";
export type { ModelInfo__Output as ModelInfoMessage } from "./generated/shardmax/v1/ModelInfo.js";
export type { PartialRequest, PartialRequest__Output as PartialRequestMessage } from "./generated/shardmax/v1/PartialRequest.js";
export type { PartialResponse, PartialResponse__Output as PartialResponseMessage } from "./generated/shardmax/v1/PartialResponse.js";
export type { PartialStreamRequest, PartialStreamRequest__Output as PartialStreamRequestMessage } from "./generated/shardmax/v1/PartialStreamRequest.js";
export type { PartialStreamResponse, PartialStreamResponse__Output as PartialStreamResponseMessage } from "./generated/shardmax/v1/PartialStreamResponse.js";
export type { QueryRequest, QueryRequest__Output as QueryRequestMessage } from "./generated/shardmax/v1/QueryRequest.js";
export type { QueryResponse, QueryResponse__Output as QueryResponseMessage } from "./generated/shardmax/v1/QueryResponse.js";
export type { SampleSpec__Output as SampleSpecMessage } from "./generated/shardmax/v1/SampleSpec.js";
export type { ShardClient as ShardStub } from "./generated/shardmax/v1/Shard.js";
export type { ShardInfo__Output as ShardInfoMessage } from "./generated/shardmax/v1/ShardInfo.js";
export type { SoftmaxClient as SoftmaxStub } from "./generated/shardmax/v1/Softmax.js";
export type { ProtoGrpcType as SoftmaxProto } from "./generated/softmax.js";
