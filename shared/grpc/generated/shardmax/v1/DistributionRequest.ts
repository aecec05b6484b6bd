// Original file: proto/shardmax/v1/softmax.proto


export interface DistributionRequest {
  /**
   * B
   */
  'rows'?: (number);
  /**
   * d
   */
  'dim'?: (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden'?: (Buffer | Uint8Array | string);
  /**
   * default 1
   */
  'temperature'?: (number | string);
  '_temperature'?: "temperature";
}

export interface DistributionRequest__Output {
  /**
   * B
   */
  'rows': (number);
  /**
   * d
   */
  'dim': (number);
  /**
   * B×d float32, little-endian, row-major
   */
  'hidden': (Buffer);
  /**
   * default 1
   */
  'temperature'?: (number);
  '_temperature'?: "temperature";
}
