// Original file: proto/shardmax/v1/softmax.proto

import type { TargetList as _shardmax_v1_TargetList, TargetList__Output as _shardmax_v1_TargetList__Output } from '../../shardmax/v1/TargetList.js';
import type { SampleSpec as _shardmax_v1_SampleSpec, SampleSpec__Output as _shardmax_v1_SampleSpec__Output } from '../../shardmax/v1/SampleSpec.js';

export interface QueryRequest {
  /**
   * B
   */
  'rows'?: (number);
  /**
   * d
   */
  'dim'?: (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden'?: (Buffer | Uint8Array | string);
  /**
   * default 5
   */
  'topK'?: (number);
  /**
   * empty, or exactly one list per row
   */
  'targets'?: (_shardmax_v1_TargetList)[];
  /**
   * default 1
   */
  'temperature'?: (number | string);
  /**
   * exact Gumbel-max draws per row (README: Sampling)
   */
  'sample'?: (_shardmax_v1_SampleSpec | null);
  '_topK'?: "topK";
  '_temperature'?: "temperature";
  '_sample'?: "sample";
}

export interface QueryRequest__Output {
  /**
   * B
   */
  'rows': (number);
  /**
   * d
   */
  'dim': (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden': (Buffer);
  /**
   * default 5
   */
  'topK'?: (number);
  /**
   * empty, or exactly one list per row
   */
  'targets': (_shardmax_v1_TargetList__Output)[];
  /**
   * default 1
   */
  'temperature'?: (number);
  /**
   * exact Gumbel-max draws per row (README: Sampling)
   */
  'sample'?: (_shardmax_v1_SampleSpec__Output | null);
  '_topK'?: "topK";
  '_temperature'?: "temperature";
  '_sample'?: "sample";
}
