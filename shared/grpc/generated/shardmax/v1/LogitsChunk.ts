// Original file: proto/shardmax/v1/shard.proto

import type { Long } from '@grpc/proto-loader';

export interface LogitsChunk {
  'row'?: (number);
  /**
   * global id of the first class in `logits`
   */
  'start'?: (number | string | Long);
  /**
   * float32 LE scaled logits of classes [start, start + n)
   */
  'logits'?: (Buffer | Uint8Array | string);
}

export interface LogitsChunk__Output {
  'row': (number);
  /**
   * global id of the first class in `logits`
   */
  'start': (number);
  /**
   * float32 LE scaled logits of classes [start, start + n)
   */
  'logits': (Buffer);
}
