// Original file: proto/shardmax/v1/shard.proto

import type { Long } from '@grpc/proto-loader';

export interface ShardInfo {
  /**
   * first class id owned (inclusive)
   */
  'rangeStart'?: (number | string | Long);
  /**
   * one past the last class id owned
   */
  'rangeEnd'?: (number | string | Long);
  /**
   * V of the whole head
   */
  'vocabSize'?: (number | string | Long);
  /**
   * d
   */
  'dim'?: (number);
  /**
   * identical on every shard of one head
   */
  'fingerprint'?: (string);
  /**
   * how the checkpoint stores W: F32, F16, BF16
   */
  'dtype'?: (string);
  'hasBias'?: (boolean);
  /**
   * where the weights came from, for operators
   */
  'source'?: (string);
  /**
   * largest batch one Partial may carry
   */
  'maxRows'?: (number);
}

export interface ShardInfo__Output {
  /**
   * first class id owned (inclusive)
   */
  'rangeStart': (number);
  /**
   * one past the last class id owned
   */
  'rangeEnd': (number);
  /**
   * V of the whole head
   */
  'vocabSize': (number);
  /**
   * d
   */
  'dim': (number);
  /**
   * identical on every shard of one head
   */
  'fingerprint': (string);
  /**
   * how the checkpoint stores W: F32, F16, BF16
   */
  'dtype': (string);
  'hasBias': (boolean);
  /**
   * where the weights came from, for operators
   */
  'source': (string);
  /**
   * largest batch one Partial may carry
   */
  'maxRows': (number);
}
