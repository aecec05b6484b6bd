// Original file: proto/shardmax/v1/shard.proto

import type { PartialRequest as _shardmax_v1_PartialRequest, PartialRequest__Output as _shardmax_v1_PartialRequest__Output } from '../../shardmax/v1/PartialRequest.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One message on Shard.PartialStream from the caller: a Partial to run, or the
 * cancellation of one still running (`cancel` set, `partial` absent). Ids are
 * the caller's, unique among its Partials in flight on the stream.
 */
export interface PartialStreamRequest {
  'id'?: (number | string | Long);
  'partial'?: (_shardmax_v1_PartialRequest | null);
  /**
   * Time left for this Partial, in ms, from when the shard reads it (a budget,
   * not a wall-clock instant: clocks of two hosts differ); 0: none.
   */
  'budgetMs'?: (number);
  'cancel'?: (boolean);
  /**
   * Per-Partial call metadata (e.g. `traceparent`), what unary calls carry in
   * their gRPC metadata.
   */
  'metadata'?: ({[key: string]: string});
}

/**
 * One message on Shard.PartialStream from the caller: a Partial to run, or the
 * cancellation of one still running (`cancel` set, `partial` absent). Ids are
 * the caller's, unique among its Partials in flight on the stream.
 */
export interface PartialStreamRequest__Output {
  'id': (number);
  'partial': (_shardmax_v1_PartialRequest__Output | null);
  /**
   * Time left for this Partial, in ms, from when the shard reads it (a budget,
   * not a wall-clock instant: clocks of two hosts differ); 0: none.
   */
  'budgetMs': (number);
  'cancel': (boolean);
  /**
   * Per-Partial call metadata (e.g. `traceparent`), what unary calls carry in
   * their gRPC metadata.
   */
  'metadata': ({[key: string]: string});
}
