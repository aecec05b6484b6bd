// Original file: proto/shardmax/v1/softmax.proto


export interface TargetList {
  'ids'?: (number)[];
}

export interface TargetList__Output {
  'ids': (number)[];
}
