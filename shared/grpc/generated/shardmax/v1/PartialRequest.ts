// Original file: proto/shardmax/v1/shard.proto


export interface PartialRequest {
  /**
   * B
   */
  'rows'?: (number);
  /**
   * d; must equal the shard's
   */
  'dim'?: (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden'?: (Buffer | Uint8Array | string);
  /**
   * 0 … range size; the shard returns min(top_k, size)
   */
  'topK'?: (number);
  /**
   * > 0; 0 means 1; for every row when `temperatures` is empty
   */
  'temperature'?: (number | string);
  /**
   * per row, how many of target_ids it owns
   */
  'targetCounts'?: (number)[];
  /**
   * uint32 LE global ids, all owned by this shard
   */
  'targetIds'?: (Buffer | Uint8Array | string);
  /**
   * if set, the shard refuses (FAILED_PRECONDITION) a different head
   */
  'fingerprint'?: (string);
  /**
   * Per-row options; each is empty (every row takes the default) or one value per row.
   */
  'temperatures'?: (Buffer | Uint8Array | string);
  /**
   * B uint32: Gumbel-max draws (default 0)
   */
  'drawCounts'?: (Buffer | Uint8Array | string);
  /**
   * B float64: integer seeds 0 … 2^53 − 1
   */
  'seeds'?: (Buffer | Uint8Array | string);
  /**
   * B uint32: top-k restriction (0: none)
   */
  'sampleTopK'?: (Buffer | Uint8Array | string);
  /**
   * B float64: top-p restriction (0 or 1: none)
   */
  'topP'?: (Buffer | Uint8Array | string);
  /**
   * B float64: min-p restriction (0: none)
   */
  'minP'?: (Buffer | Uint8Array | string);
  /**
   * B uint32: class-order points whose mass-before is asked
   */
  'pointCounts'?: (Buffer | Uint8Array | string);
  /**
   * float32 per point, row by row
   */
  'pointLogits'?: (Buffer | Uint8Array | string);
  /**
   * uint32 per point
   */
  'pointIds'?: (Buffer | Uint8Array | string);
}

export interface PartialRequest__Output {
  /**
   * B
   */
  'rows': (number);
  /**
   * d; must equal the shard's
   */
  'dim': (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden': (Buffer);
  /**
   * 0 … range size; the shard returns min(top_k, size)
   */
  'topK': (number);
  /**
   * > 0; 0 means 1; for every row when `temperatures` is empty
   */
  'temperature': (number);
  /**
   * per row, how many of target_ids it owns
   */
  'targetCounts': (number)[];
  /**
   * uint32 LE global ids, all owned by this shard
   */
  'targetIds': (Buffer);
  /**
   * if set, the shard refuses (FAILED_PRECONDITION) a different head
   */
  'fingerprint': (string);
  /**
   * Per-row options; each is empty (every row takes the default) or one value per row.
   */
  'temperatures': (Buffer);
  /**
   * B uint32: Gumbel-max draws (default 0)
   */
  'drawCounts': (Buffer);
  /**
   * B float64: integer seeds 0 … 2^53 − 1
   */
  'seeds': (Buffer);
  /**
   * B uint32: top-k restriction (0: none)
   */
  'sampleTopK': (Buffer);
  /**
   * B float64: top-p restriction (0 or 1: none)
   */
  'topP': (Buffer);
  /**
   * B float64: min-p restriction (0: none)
   */
  'minP': (Buffer);
  /**
   * B uint32: class-order points whose mass-before is asked
   */
  'pointCounts': (Buffer);
  /**
   * float32 per point, row by row
   */
  'pointLogits': (Buffer);
  /**
   * uint32 per point
   */
  'pointIds': (Buffer);
}
