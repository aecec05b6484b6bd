/** Loads baseline B's wire contract (gather.proto, read from the package folder as proto/ is). */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { packageRoot } from "../../shared/package-root.js";

export interface LogitsRequest {
  rows: number;
  dim: number;
  hidden: Buffer;
}

export interface LogitsResponse {
  rows: number;
  rangeStart: number;
  rangeEnd: number;
  logits: Buffer;
}

let loaded: grpc.ServiceClientConstructor | undefined;

export function gatherShardService(): grpc.ServiceClientConstructor {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(join(packageRoot(), "bench", "gather", "gather.proto"), { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { shardmax: { bench: { v1: { GatherShard: grpc.ServiceClientConstructor } } } };
  loaded = pkg.shardmax.bench.v1.GatherShard;
  return loaded;
}
