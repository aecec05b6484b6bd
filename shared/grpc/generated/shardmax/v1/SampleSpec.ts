// Original file: proto/shardmax/v1/softmax.proto

import type { Long } from '@grpc/proto-loader';

export interface SampleSpec {
  /**
   * draws per row, 1 … --max-draws
   */
  'n'?: (number);
  /**
   * row r uses (seed + r) mod 2^53; both unset: the gateway picks one
   */
  'seed'?: (number | string | Long);
  /**
   * or exactly one seed per row
   */
  'seeds'?: (number | string | Long)[];
  /**
   * restrict to the K most likely classes
   */
  'topK'?: (number);
  /**
   * then to the nucleus of mass p, in (0, 1]
   */
  'topP'?: (number | string);
  /**
   * then to classes with p ≥ min_p · p_max, in [0, 1)
   */
  'minP'?: (number | string);
  '_seed'?: "seed";
  '_topK'?: "topK";
  '_topP'?: "topP";
  '_minP'?: "minP";
}

export interface SampleSpec__Output {
  /**
   * draws per row, 1 … --max-draws
   */
  'n': (number);
  /**
   * row r uses (seed + r) mod 2^53; both unset: the gateway picks one
   */
  'seed'?: (number);
  /**
   * or exactly one seed per row
   */
  'seeds': (number)[];
  /**
   * restrict to the K most likely classes
   */
  'topK'?: (number);
  /**
   * then to the nucleus of mass p, in (0, 1]
   */
  'topP'?: (number);
  /**
   * then to classes with p ≥ min_p · p_max, in [0, 1)
   */
  'minP'?: (number);
  '_seed'?: "seed";
  '_topK'?: "topK";
  '_topP'?: "topP";
  '_minP'?: "minP";
}
