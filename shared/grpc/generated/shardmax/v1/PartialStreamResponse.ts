// Original file: proto/shardmax/v1/shard.proto

import type { PartialResponse as _shardmax_v1_PartialResponse, PartialResponse__Output as _shardmax_v1_PartialResponse__Output } from '../../shardmax/v1/PartialResponse.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The answer to one Partial of the stream: its response, or its error (the
 * shardmax error code and message, as a unary call carries them in its status).
 */
export interface PartialStreamResponse {
  'id'?: (number | string | Long);
  'partial'?: (_shardmax_v1_PartialResponse | null);
  /**
   * empty on success
   */
  'errorCode'?: (string);
  'errorMessage'?: (string);
}

/**
 * The answer to one Partial of the stream: its response, or its error (the
 * shardmax error code and message, as a unary call carries them in its status).
 */
export interface PartialStreamResponse__Output {
  'id': (number);
  'partial': (_shardmax_v1_PartialResponse__Output | null);
  /**
   * empty on success
   */
  'errorCode': (string);
  'errorMessage': (string);
}
