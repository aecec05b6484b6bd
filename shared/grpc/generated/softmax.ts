import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DistributionChunk as _shardmax_v1_DistributionChunk, DistributionChunk__Output as _shardmax_v1_DistributionChunk__Output } from './shardmax/v1/DistributionChunk.js';
import type { DistributionRequest as _shardmax_v1_DistributionRequest, DistributionRequest__Output as _shardmax_v1_DistributionRequest__Output } from './shardmax/v1/DistributionRequest.js';
import type { LabelsInfo as _shardmax_v1_LabelsInfo, LabelsInfo__Output as _shardmax_v1_LabelsInfo__Output } from './shardmax/v1/LabelsInfo.js';
import type { ModelInfo as _shardmax_v1_ModelInfo, ModelInfo__Output as _shardmax_v1_ModelInfo__Output } from './shardmax/v1/ModelInfo.js';
import type { ModelInfoRequest as _shardmax_v1_ModelInfoRequest, ModelInfoRequest__Output as _shardmax_v1_ModelInfoRequest__Output } from './shardmax/v1/ModelInfoRequest.js';
import type { ModelRef as _shardmax_v1_ModelRef, ModelRef__Output as _shardmax_v1_ModelRef__Output } from './shardmax/v1/ModelRef.js';
import type { QueryRequest as _shardmax_v1_QueryRequest, QueryRequest__Output as _shardmax_v1_QueryRequest__Output } from './shardmax/v1/QueryRequest.js';
import type { QueryResponse as _shardmax_v1_QueryResponse, QueryResponse__Output as _shardmax_v1_QueryResponse__Output } from './shardmax/v1/QueryResponse.js';
import type { RangeStatus as _shardmax_v1_RangeStatus, RangeStatus__Output as _shardmax_v1_RangeStatus__Output } from './shardmax/v1/RangeStatus.js';
import type { ReplicaStatus as _shardmax_v1_ReplicaStatus, ReplicaStatus__Output as _shardmax_v1_ReplicaStatus__Output } from './shardmax/v1/ReplicaStatus.js';
import type { RowResult as _shardmax_v1_RowResult, RowResult__Output as _shardmax_v1_RowResult__Output } from './shardmax/v1/RowResult.js';
import type { SampleSpec as _shardmax_v1_SampleSpec, SampleSpec__Output as _shardmax_v1_SampleSpec__Output } from './shardmax/v1/SampleSpec.js';
import type { ScoredClass as _shardmax_v1_ScoredClass, ScoredClass__Output as _shardmax_v1_ScoredClass__Output } from './shardmax/v1/ScoredClass.js';
import type { SoftmaxClient as _shardmax_v1_SoftmaxClient, SoftmaxDefinition as _shardmax_v1_SoftmaxDefinition } from './shardmax/v1/Softmax.js';
import type { TargetList as _shardmax_v1_TargetList, TargetList__Output as _shardmax_v1_TargetList__Output } from './shardmax/v1/TargetList.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  shardmax: {
    v1: {
      DistributionChunk: MessageTypeDefinition<_shardmax_v1_DistributionChunk, _shardmax_v1_DistributionChunk__Output>
      DistributionRequest: MessageTypeDefinition<_shardmax_v1_DistributionRequest, _shardmax_v1_DistributionRequest__Output>
      LabelsInfo: MessageTypeDefinition<_shardmax_v1_LabelsInfo, _shardmax_v1_LabelsInfo__Output>
      ModelInfo: MessageTypeDefinition<_shardmax_v1_ModelInfo, _shardmax_v1_ModelInfo__Output>
      ModelInfoRequest: MessageTypeDefinition<_shardmax_v1_ModelInfoRequest, _shardmax_v1_ModelInfoRequest__Output>
      ModelRef: MessageTypeDefinition<_shardmax_v1_ModelRef, _shardmax_v1_ModelRef__Output>
      QueryRequest: MessageTypeDefinition<_shardmax_v1_QueryRequest, _shardmax_v1_QueryRequest__Output>
      QueryResponse: MessageTypeDefinition<_shardmax_v1_QueryResponse, _shardmax_v1_QueryResponse__Output>
      RangeStatus: MessageTypeDefinition<_shardmax_v1_RangeStatus, _shardmax_v1_RangeStatus__Output>
      ReplicaStatus: MessageTypeDefinition<_shardmax_v1_ReplicaStatus, _shardmax_v1_ReplicaStatus__Output>
      RowResult: MessageTypeDefinition<_shardmax_v1_RowResult, _shardmax_v1_RowResult__Output>
      SampleSpec: MessageTypeDefinition<_shardmax_v1_SampleSpec, _shardmax_v1_SampleSpec__Output>
      ScoredClass: MessageTypeDefinition<_shardmax_v1_ScoredClass, _shardmax_v1_ScoredClass__Output>
      Softmax: SubtypeConstructor<typeof grpc.Client, _shardmax_v1_SoftmaxClient> & { service: _shardmax_v1_SoftmaxDefinition }
      TargetList: MessageTypeDefinition<_shardmax_v1_TargetList, _shardmax_v1_TargetList__Output>
    }
  }
}

