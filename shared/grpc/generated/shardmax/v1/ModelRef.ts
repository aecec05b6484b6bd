// Original file: proto/shardmax/v1/softmax.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelRef {
  'fingerprint'?: (string);
  'vocabSize'?: (number | string | Long);
  'dim'?: (number);
}

export interface ModelRef__Output {
  'fingerprint': (string);
  'vocabSize': (number);
  'dim': (number);
}
