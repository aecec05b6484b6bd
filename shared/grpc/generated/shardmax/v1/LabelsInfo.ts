// Original file: proto/shardmax/v1/softmax.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Where the labels on results come from.
 */
export interface LabelsInfo {
  /**
   * the file
   */
  'source'?: (string);
  /**
   * "text" (line i is class i) or "tokenizer.json"
   */
  'kind'?: (string);
  /**
   * labels in it (equals V when serving)
   */
  'count'?: (number | string | Long);
}

/**
 * Where the labels on results come from.
 */
export interface LabelsInfo__Output {
  /**
   * the file
   */
  'source': (string);
  /**
   * "text" (line i is class i) or "tokenizer.json"
   */
  'kind': (string);
  /**
   * labels in it (equals V when serving)
   */
  'count': (number);
}
