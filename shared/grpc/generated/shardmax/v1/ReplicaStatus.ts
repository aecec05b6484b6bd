// Original file: proto/shardmax/v1/softmax.proto


export interface ReplicaStatus {
  'address'?: (string);
  'healthy'?: (boolean);
  /**
   * why it is not healthy, if it is not
   */
  'error'?: (string);
}

export interface ReplicaStatus__Output {
  'address': (string);
  'healthy': (boolean);
  /**
   * why it is not healthy, if it is not
   */
  'error': (string);
}
