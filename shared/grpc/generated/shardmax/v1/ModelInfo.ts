// Original file: proto/shardmax/v1/softmax.proto

import type { ModelRef as _shardmax_v1_ModelRef, ModelRef__Output as _shardmax_v1_ModelRef__Output } from '../../shardmax/v1/ModelRef.js';
import type { RangeStatus as _shardmax_v1_RangeStatus, RangeStatus__Output as _shardmax_v1_RangeStatus__Output } from '../../shardmax/v1/RangeStatus.js';
import type { LabelsInfo as _shardmax_v1_LabelsInfo, LabelsInfo__Output as _shardmax_v1_LabelsInfo__Output } from '../../shardmax/v1/LabelsInfo.js';

export interface ModelInfo {
  'model'?: (_shardmax_v1_ModelRef | null);
  'ready'?: (boolean);
  /**
   * why not ready
   */
  'reason'?: (string);
  'ranges'?: (_shardmax_v1_RangeStatus)[];
  'dtype'?: (string);
  'hasBias'?: (boolean);
  'maxTopK'?: (number);
  'maxRows'?: (number);
  /**
   * unset when the gateway has no --labels
   */
  'labels'?: (_shardmax_v1_LabelsInfo | null);
}

export interface ModelInfo__Output {
  'model': (_shardmax_v1_ModelRef__Output | null);
  'ready': (boolean);
  /**
   * why not ready
   */
  'reason': (string);
  'ranges': (_shardmax_v1_RangeStatus__Output)[];
  'dtype': (string);
  'hasBias': (boolean);
  'maxTopK': (number);
  'maxRows': (number);
  /**
   * unset when the gateway has no --labels
   */
  'labels': (_shardmax_v1_LabelsInfo__Output | null);
}
