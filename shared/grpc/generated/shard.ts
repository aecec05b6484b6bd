import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { InfoRequest as _shardmax_v1_InfoRequest, InfoRequest__Output as _shardmax_v1_InfoRequest__Output } from './shardmax/v1/InfoRequest.js';
import type { LogitsChunk as _shardmax_v1_LogitsChunk, LogitsChunk__Output as _shardmax_v1_LogitsChunk__Output } from './shardmax/v1/LogitsChunk.js';
import type { LogitsRequest as _shardmax_v1_LogitsRequest, LogitsRequest__Output as _shardmax_v1_LogitsRequest__Output } from './shardmax/v1/LogitsRequest.js';
import type { PartialRequest as _shardmax_v1_PartialRequest, PartialRequest__Output as _shardmax_v1_PartialRequest__Output } from './shardmax/v1/PartialRequest.js';
import type { PartialResponse as _shardmax_v1_PartialResponse, PartialResponse__Output as _shardmax_v1_PartialResponse__Output } from './shardmax/v1/PartialResponse.js';
import type { PartialStreamRequest as _shardmax_v1_PartialStreamRequest, PartialStreamRequest__Output as _shardmax_v1_PartialStreamRequest__Output } from './shardmax/v1/PartialStreamRequest.js';
import type { PartialStreamResponse as _shardmax_v1_PartialStreamResponse, PartialStreamResponse__Output as _shardmax_v1_PartialStreamResponse__Output } from './shardmax/v1/PartialStreamResponse.js';
import type { ShardClient as _shardmax_v1_ShardClient, ShardDefinition as _shardmax_v1_ShardDefinition } from './shardmax/v1/Shard.js';
import type { ShardInfo as _shardmax_v1_ShardInfo, ShardInfo__Output as _shardmax_v1_ShardInfo__Output } from './shardmax/v1/ShardInfo.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  shardmax: {
    v1: {
      InfoRequest: MessageTypeDefinition<_shardmax_v1_InfoRequest, _shardmax_v1_InfoRequest__Output>
      LogitsChunk: MessageTypeDefinition<_shardmax_v1_LogitsChunk, _shardmax_v1_LogitsChunk__Output>
      LogitsRequest: MessageTypeDefinition<_shardmax_v1_LogitsRequest, _shardmax_v1_LogitsRequest__Output>
      PartialRequest: MessageTypeDefinition<_shardmax_v1_PartialRequest, _shardmax_v1_PartialRequest__Output>
      PartialResponse: MessageTypeDefinition<_shardmax_v1_PartialResponse, _shardmax_v1_PartialResponse__Output>
      PartialStreamRequest: MessageTypeDefinition<_shardmax_v1_PartialStreamRequest, _shardmax_v1_PartialStreamRequest__Output>
      PartialStreamResponse: MessageTypeDefinition<_shardmax_v1_PartialStreamResponse, _shardmax_v1_PartialStreamResponse__Output>
      Shard: SubtypeConstructor<typeof grpc.Client, _shardmax_v1_ShardClient> & { service: _shardmax_v1_ShardDefinition }
      ShardInfo: MessageTypeDefinition<_shardmax_v1_ShardInfo, _shardmax_v1_ShardInfo__Output>
    }
  }
}

