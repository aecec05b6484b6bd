// Original file: proto/shardmax/v1/softmax.proto


export interface ModelInfoRequest {
}

export interface ModelInfoRequest__Output {
}
