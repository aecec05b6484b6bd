/**
 * Loads the wire contracts from `proto/` at run time (proto-loader), so the
 * .proto files stay the single source of truth for every process.
 */
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { packageRoot } from "../package-root.js";

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number, // ids and V stay below 2^53
  enums: String,
  defaults: true,
  oneofs: true,
};

type ServiceCtor = grpc.ServiceClientConstructor;

export interface ShardmaxPackage {
  Shard: ServiceCtor;
  Softmax: ServiceCtor;
}

let loaded: ShardmaxPackage | undefined;

export function shardmaxProto(): ShardmaxPackage {
  if (loaded) return loaded;
  const root = join(packageRoot(), "proto");
  const definition = protoLoader.loadSync(["shardmax/v1/shard.proto", "shardmax/v1/softmax.proto"], {
    ...LOADER_OPTIONS,
    includeDirs: [root],
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { shardmax: { v1: ShardmaxPackage } };
  loaded = pkg.shardmax.v1;
  return loaded;
}

/**
 * Channel options shared by clients and servers: message limits sized for the
 * largest batch (rows × d × 4 bytes plus framing) rather than gRPC's 4 MiB.
 */
export function messageLimits(maxMessageBytes: number): grpc.ChannelOptions {
  return {
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
  };
}

/**
 * The floor of every message limit: a shard raises its own to what its
 * --max-rows × d needs, the gateway to what its answer limit needs.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

let inference: ServiceCtor | undefined;

/** `inference.GRPCInferenceService`, the Open Inference Protocol (proto/inference/grpc_service.proto). */
export function inferenceService(): ServiceCtor {
  if (inference) return inference;
  const definition = protoLoader.loadSync("inference/grpc_service.proto", { ...LOADER_OPTIONS, includeDirs: [join(packageRoot(), "proto")] });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: ServiceCtor } };
  inference = pkg.inference.GRPCInferenceService;
  return inference;
}
