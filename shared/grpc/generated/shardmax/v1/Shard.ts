// Original file: proto/shardmax/v1/shard.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { InfoRequest as _shardmax_v1_InfoRequest, InfoRequest__Output as _shardmax_v1_InfoRequest__Output } from '../../shardmax/v1/InfoRequest.js';
import type { LogitsChunk as _shardmax_v1_LogitsChunk, LogitsChunk__Output as _shardmax_v1_LogitsChunk__Output } from '../../shardmax/v1/LogitsChunk.js';
import type { LogitsRequest as _shardmax_v1_LogitsRequest, LogitsRequest__Output as _shardmax_v1_LogitsRequest__Output } from '../../shardmax/v1/LogitsRequest.js';
import type { PartialRequest as _shardmax_v1_PartialRequest, PartialRequest__Output as _shardmax_v1_PartialRequest__Output } from '../../shardmax/v1/PartialRequest.js';
import type { PartialResponse as _shardmax_v1_PartialResponse, PartialResponse__Output as _shardmax_v1_PartialResponse__Output } from '../../shardmax/v1/PartialResponse.js';
import type { PartialStreamRequest as _shardmax_v1_PartialStreamRequest, PartialStreamRequest__Output as _shardmax_v1_PartialStreamRequest__Output } from '../../shardmax/v1/PartialStreamRequest.js';
import type { PartialStreamResponse as _shardmax_v1_PartialStreamResponse, PartialStreamResponse__Output as _shardmax_v1_PartialStreamResponse__Output } from '../../shardmax/v1/PartialStreamResponse.js';
import type { ShardInfo as _shardmax_v1_ShardInfo, ShardInfo__Output as _shardmax_v1_ShardInfo__Output } from '../../shardmax/v1/ShardInfo.js';

export interface ShardClient extends grpc.Client {
  Info(argument: _shardmax_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  Info(argument: _shardmax_v1_InfoRequest, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  info(argument: _shardmax_v1_InfoRequest, callback: grpc.requestCallback<_shardmax_v1_ShardInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * The scaled logits z of every owned class, row by row (the full distribution's second pass).
   */
  Logits(argument: _shardmax_v1_LogitsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_LogitsChunk__Output>;
  Logits(argument: _shardmax_v1_LogitsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_LogitsChunk__Output>;
  /**
   * The scaled logits z of every owned class, row by row (the full distribution's second pass).
   */
  logits(argument: _shardmax_v1_LogitsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_LogitsChunk__Output>;
  logits(argument: _shardmax_v1_LogitsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_shardmax_v1_LogitsChunk__Output>;
  
  Partial(argument: _shardmax_v1_PartialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  Partial(argument: _shardmax_v1_PartialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  Partial(argument: _shardmax_v1_PartialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  Partial(argument: _shardmax_v1_PartialRequest, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  partial(argument: _shardmax_v1_PartialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  partial(argument: _shardmax_v1_PartialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  partial(argument: _shardmax_v1_PartialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  partial(argument: _shardmax_v1_PartialRequest, callback: grpc.requestCallback<_shardmax_v1_PartialResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Many Partials on one long-lived call: each request carries an id, its own
   * time budget and optional metadata; each answer (or error) carries the id of
   * its request, in completion order. What the gateway uses; Partial stays for
   * other clients. See PartialStreamRequest.
   */
  PartialStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamResponse__Output>;
  PartialStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamResponse__Output>;
  /**
   * Many Partials on one long-lived call: each request carries an id, its own
   * time budget and optional metadata; each answer (or error) carries the id of
   * its request, in completion order. What the gateway uses; Partial stays for
   * other clients. See PartialStreamRequest.
   */
  partialStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamResponse__Output>;
  partialStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamResponse__Output>;
  
}

export interface ShardHandlers extends grpc.UntypedServiceImplementation {
  Info: grpc.handleUnaryCall<_shardmax_v1_InfoRequest__Output, _shardmax_v1_ShardInfo>;
  
  /**
   * The scaled logits z of every owned class, row by row (the full distribution's second pass).
   */
  Logits: grpc.handleServerStreamingCall<_shardmax_v1_LogitsRequest__Output, _shardmax_v1_LogitsChunk>;
  
  Partial: grpc.handleUnaryCall<_shardmax_v1_PartialRequest__Output, _shardmax_v1_PartialResponse>;
  
  /**
   * Many Partials on one long-lived call: each request carries an id, its own
   * time budget and optional metadata; each answer (or error) carries the id of
   * its request, in completion order. What the gateway uses; Partial stays for
   * other clients. See PartialStreamRequest.
   */
  PartialStream: grpc.handleBidiStreamingCall<_shardmax_v1_PartialStreamRequest__Output, _shardmax_v1_PartialStreamResponse>;
  
}

export interface ShardDefinition extends grpc.ServiceDefinition {
  Info: MethodDefinition<_shardmax_v1_InfoRequest, _shardmax_v1_ShardInfo, _shardmax_v1_InfoRequest__Output, _shardmax_v1_ShardInfo__Output>
  Logits: MethodDefinition<_shardmax_v1_LogitsRequest, _shardmax_v1_LogitsChunk, _shardmax_v1_LogitsRequest__Output, _shardmax_v1_LogitsChunk__Output>
  Partial: MethodDefinition<_shardmax_v1_PartialRequest, _shardmax_v1_PartialResponse, _shardmax_v1_PartialRequest__Output, _shardmax_v1_PartialResponse__Output>
  PartialStream: MethodDefinition<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamResponse, _shardmax_v1_PartialStreamRequest__Output, _shardmax_v1_PartialStreamResponse__Output>
}
