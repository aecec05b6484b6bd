// Original file: proto/shardmax/v1/softmax.proto

import type { ScoredClass as _shardmax_v1_ScoredClass, ScoredClass__Output as _shardmax_v1_ScoredClass__Output } from '../../shardmax/v1/ScoredClass.js';
import type { Long } from '@grpc/proto-loader';

export interface RowResult {
  'logZ'?: (number | string);
  'top'?: (_shardmax_v1_ScoredClass)[];
  /**
   * prob unset for targets
   */
  'targets'?: (_shardmax_v1_ScoredClass)[];
  /**
   * the row's seed, when it was sampled
   */
  'seed'?: (number | string | Long);
  /**
   * its draws in order; prob unset
   */
  'samples'?: (_shardmax_v1_ScoredClass)[];
  '_seed'?: "seed";
}

export interface RowResult__Output {
  'logZ': (number);
  'top': (_shardmax_v1_ScoredClass__Output)[];
  /**
   * prob unset for targets
   */
  'targets': (_shardmax_v1_ScoredClass__Output)[];
  /**
   * the row's seed, when it was sampled
   */
  'seed'?: (number);
  /**
   * its draws in order; prob unset
   */
  'samples': (_shardmax_v1_ScoredClass__Output)[];
  '_seed'?: "seed";
}
