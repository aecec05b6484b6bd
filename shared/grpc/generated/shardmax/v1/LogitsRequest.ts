// Original file: proto/shardmax/v1/shard.proto


/**
 * Asks for z = (W·h + b)/T of every class the shard owns, for each row. The
 * chunks come in row-major order: all of row 0 in class order, then row 1 …;
 * each chunk covers [start, start + len(logits)/4) of one row.
 */
export interface LogitsRequest {
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
   * > 0; 0 means 1
   */
  'temperature'?: (number | string);
  /**
   * if set, the shard refuses (FAILED_PRECONDITION) a different head
   */
  'fingerprint'?: (string);
}

/**
 * Asks for z = (W·h + b)/T of every class the shard owns, for each row. The
 * chunks come in row-major order: all of row 0 in class order, then row 1 …;
 * each chunk covers [start, start + len(logits)/4) of one row.
 */
export interface LogitsRequest__Output {
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
   * > 0; 0 means 1
   */
  'temperature': (number);
  /**
   * if set, the shard refuses (FAILED_PRECONDITION) a different head
   */
  'fingerprint': (string);
}
