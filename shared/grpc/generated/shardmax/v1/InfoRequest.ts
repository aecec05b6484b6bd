// Original file: proto/shardmax/v1/shard.proto


export interface InfoRequest {
}

export interface InfoRequest__Output {
}
