// Original file: proto/shardmax/v1/softmax.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DistributionChunk as _shardmax_v1_DistributionChunk, DistributionChunk__Output as _shardmax_v1_DistributionChunk__Output } from '../../shardmax/v1/DistributionChunk.js';
import type { DistributionRequest as _shardmax_v1_DistributionRequest, DistributionRequest__Output as _shardmax_v1_DistributionRequest__Output } from '../../shardmax/v1/DistributionRequest.js';
import type { ModelInfo as _shardmax_v1_ModelInfo, ModelInfo__Output as _shardmax_v1_ModelInfo__Output } from '../../shardmax/v1/ModelInfo.js';
import type { ModelInfoRequest as _shardmax_v1_ModelInfoRequest, ModelInfoRequest__Output as _shardmax_v1_ModelInfoRequest__Output } from '../../shardmax/v1/ModelInfoRequest.js';
import type { QueryRequest as _shardmax_v1_QueryRequest, QueryRequest__Output as _shardmax_v1_QueryRequest__Output } from '../../shardmax/v1/QueryRequest.js';
import type { QueryResponse as _shardmax_v1_QueryResponse, QueryResponse__Output as _shardmax_v1_QueryResponse__Output } from '../../shardmax/v1/QueryResponse.js';

export interface SoftmaxClient extends grpc.Client {
  /**
   * log p of every class of every row, streamed in row-major order (README: "Full distribution").
   */
  Distribution(argument: _shardmax_v1_DistributionRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_DistributionChunk__Output>;
  Distribution(argument: _shardmax_v1_DistributionRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_DistributionChunk__Output>;
  /**
   * log p of every class of every row, streamed in row-major order (README: "Full distribution").
   */
  distribution(argument: _shardmax_v1_DistributionRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_DistributionChunk__Output>;
  distribution(argument: _shardmax_v1_DistributionRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_DistributionChunk__Output>;
  
  Info(argument: _shardmax_v1_ModelInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_ModelInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_ModelInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_ModelInfoRequest, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_ModelInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_ModelInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_ModelInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_ModelInfoRequest, callback: grpc.requestCallback<_shardmax_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  Query(argument: _shardmax_v1_QueryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  Query(argument: _shardmax_v1_QueryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  Query(argument: _shardmax_v1_QueryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  Query(argument: _shardmax_v1_QueryRequest, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  query(argument: _shardmax_v1_QueryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  query(argument: _shardmax_v1_QueryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  query(argument: _shardmax_v1_QueryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  query(argument: _shardmax_v1_QueryRequest, callback: grpc.requestCallback<_shardmax_v1_QueryResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface SoftmaxHandlers extends grpc.UntypedServiceImplementation {
  /**
   * log p of every class of every row, streamed in row-major order (README: "Full distribution").
   */
  Distribution: grpc.handleServerStreamingCall<_shardmax_v1_DistributionRequest__Output, _shardmax_v1_DistributionChunk>;
  
  Info: grpc.handleUnaryCall<_shardmax_v1_ModelInfoRequest__Output, _shardmax_v1_ModelInfo>;
  
  Query: grpc.handleUnaryCall<_shardmax_v1_QueryRequest__Output, _shardmax_v1_QueryResponse>;
  
}

export interface SoftmaxDefinition extends grpc.ServiceDefinition {
  Distribution: MethodDefinition<_shardmax_v1_DistributionRequest, _shardmax_v1_DistributionChunk, _shardmax_v1_DistributionRequest__Output, _shardmax_v1_DistributionChunk__Output>
  Info: MethodDefinition<_shardmax_v1_ModelInfoRequest, _shardmax_v1_ModelInfo, _shardmax_v1_ModelInfoRequest__Output, _shardmax_v1_ModelInfo__Output>
  Query: MethodDefinition<_shardmax_v1_QueryRequest, _shardmax_v1_QueryResponse, _shardmax_v1_QueryRequest__Output, _shardmax_v1_QueryResponse__Output>
}
