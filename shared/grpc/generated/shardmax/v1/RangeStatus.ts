// Original file: proto/shardmax/v1/softmax.proto

import type { ReplicaStatus as _shardmax_v1_ReplicaStatus, ReplicaStatus__Output as _shardmax_v1_ReplicaStatus__Output } from '../../shardmax/v1/ReplicaStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface RangeStatus {
  'start'?: (number | string | Long);
  'end'?: (number | string | Long);
  'replicas'?: (_shardmax_v1_ReplicaStatus)[];
}

export interface RangeStatus__Output {
  'start': (number);
  'end': (number);
  'replicas': (_shardmax_v1_ReplicaStatus__Output)[];
}
