// Original file: proto/shardmax/v1/softmax.proto

import type { ModelRef as _shardmax_v1_ModelRef, ModelRef__Output as _shardmax_v1_ModelRef__Output } from '../../shardmax/v1/ModelRef.js';
import type { RowResult as _shardmax_v1_RowResult, RowResult__Output as _shardmax_v1_RowResult__Output } from '../../shardmax/v1/RowResult.js';

export interface QueryResponse {
  'model'?: (_shardmax_v1_ModelRef | null);
  'results'?: (_shardmax_v1_RowResult)[];
}

export interface QueryResponse__Output {
  'model': (_shardmax_v1_ModelRef__Output | null);
  'results': (_shardmax_v1_RowResult__Output)[];
}
