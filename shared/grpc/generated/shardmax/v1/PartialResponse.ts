// Original file: proto/shardmax/v1/shard.proto


export interface PartialResponse {
  'rows'?: (number);
  /**
   * entries per row in top_ids / top_logits
   */
  'k'?: (number);
  /**
   * B float64: local max of scaled logits (-inf if all -inf)
   */
  'max'?: (Buffer | Uint8Array | string);
  /**
   * B float64: local sum of exp(z - max)
   */
  'sumExp'?: (Buffer | Uint8Array | string);
  /**
   * B×k uint32 global ids, best first, ties by smaller id
   */
  'topIds'?: (Buffer | Uint8Array | string);
  /**
   * B×k float32 scaled logits
   */
  'topLogits'?: (Buffer | Uint8Array | string);
  /**
   * float32 scaled logits of the owned targets, in request order
   */
  'targetLogits'?: (Buffer | Uint8Array | string);
  'fingerprint'?: (string);
  /**
   * B uint32 owned targets per row (empty: none)
   */
  'targetCounts'?: (Buffer | Uint8Array | string);
  /**
   * B uint32 draws per row (empty: none)
   */
  'drawCounts'?: (Buffer | Uint8Array | string);
  /**
   * uint32 per draw: records in its chain
   */
  'drawRecords'?: (Buffer | Uint8Array | string);
  /**
   * uint32 global ids of the chains, draw after draw, in class order
   */
  'recordIds'?: (Buffer | Uint8Array | string);
  /**
   * float32 scaled logits of the records
   */
  'recordLogits'?: (Buffer | Uint8Array | string);
  /**
   * float64 z + G of the records
   */
  'recordKeys'?: (Buffer | Uint8Array | string);
  /**
   * B uint32 points per row (empty: none)
   */
  'pointCounts'?: (Buffer | Uint8Array | string);
  /**
   * float64 per point: log Σ exp z over the owned classes before it (-inf: none)
   */
  'massBefore'?: (Buffer | Uint8Array | string);
  /**
   * B uint32: length of each row's mass grid (top-p rows; empty: none)
   */
  'gridCounts'?: (Buffer | Uint8Array | string);
  /**
   * float64 per grid entry: the top grid index, then log Σ exp z at or above each grid point
   */
  'gridMass'?: (Buffer | Uint8Array | string);
}

export interface PartialResponse__Output {
  'rows': (number);
  /**
   * entries per row in top_ids / top_logits
   */
  'k': (number);
  /**
   * B float64: local max of scaled logits (-inf if all -inf)
   */
  'max': (Buffer);
  /**
   * B float64: local sum of exp(z - max)
   */
  'sumExp': (Buffer);
  /**
   * B×k uint32 global ids, best first, ties by smaller id
   */
  'topIds': (Buffer);
  /**
   * B×k float32 scaled logits
   */
  'topLogits': (Buffer);
  /**
   * float32 scaled logits of the owned targets, in request order
   */
  'targetLogits': (Buffer);
  'fingerprint': (string);
  /**
   * B uint32 owned targets per row (empty: none)
   */
  'targetCounts': (Buffer);
  /**
   * B uint32 draws per row (empty: none)
   */
  'drawCounts': (Buffer);
  /**
   * uint32 per draw: records in its chain
   */
  'drawRecords': (Buffer);
  /**
   * uint32 global ids of the chains, draw after draw, in class order
   */
  'recordIds': (Buffer);
  /**
   * float32 scaled logits of the records
   */
  'recordLogits': (Buffer);
  /**
   * float64 z + G of the records
   */
  'recordKeys': (Buffer);
  /**
   * B uint32 points per row (empty: none)
   */
  'pointCounts': (Buffer);
  /**
   * float64 per point: log Σ exp z over the owned classes before it (-inf: none)
   */
  'massBefore': (Buffer);
  /**
   * B uint32: length of each row's mass grid (top-p rows; empty: none)
   */
  'gridCounts': (Buffer);
  /**
   * float64 per grid entry: the top grid index, then log Σ exp z at or above each grid point
   */
  'gridMass': (Buffer);
}
