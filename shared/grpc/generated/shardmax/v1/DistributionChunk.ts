// Original file: proto/shardmax/v1/softmax.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Classes [start, start + n) of one row; row r is complete when its chunks
 * cover [0, V). Chunks come in row-major order, classes ascending within a row.
 */
export interface DistributionChunk {
  'row'?: (number);
  'start'?: (number | string | Long);
  /**
   * n float32 LE: log p = z − logZ (−∞ for a class of probability 0)
   */
  'logprobs'?: (Buffer | Uint8Array | string);
  /**
   * the row's logZ, repeated on each of its chunks
   */
  'logZ'?: (number | string);
}

/**
 * Classes [start, start + n) of one row; row r is complete when its chunks
 * cover [0, V). Chunks come in row-major order, classes ascending within a row.
 */
export interface DistributionChunk__Output {
  'row': (number);
  'start': (number);
  /**
   * n float32 LE: log p = z − logZ (−∞ for a class of probability 0)
   */
  'logprobs': (Buffer);
  /**
   * the row's logZ, repeated on each of its chunks
   */
  'logZ': (number);
}
