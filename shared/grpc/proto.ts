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

import type { InferenceProto, ShardProto, SoftmaxProto } from "./messages.js";

/** The services' constructors, typed by the generated code. */
export type ShardmaxPackage = ShardProto["shardmax"]["v1"] & SoftmaxProto["shardmax"]["v1"];

let definition: protoLoader.PackageDefinition | undefined;
let loaded: ShardmaxPackage | undefined;

/** The loaded .proto files (what reflection describes). */
export function shardmaxDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(["shardmax/v1/shard.proto", "shardmax/v1/softmax.proto"], {
    ...LOADER_OPTIONS,
    includeDirs: [join(packageRoot(), "proto")],
  });
  return definition;
}

export function shardmaxProto(): ShardmaxPackage {
  if (loaded) return loaded;
  const pkg = grpc.loadPackageDefinition(shardmaxDefinition()) as unknown as { shardmax: { v1: ShardmaxPackage } };
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

let inferenceDefinitionLoaded: protoLoader.PackageDefinition | undefined;
let inference: InferenceProto["inference"]["GRPCInferenceService"] | undefined;

/** The Open Inference Protocol's .proto as the project writes it (proto/inference/grpc_service.proto). */
export function inferenceDefinition(): protoLoader.PackageDefinition {
  inferenceDefinitionLoaded ??= protoLoader.loadSync("inference/grpc_service.proto", { ...LOADER_OPTIONS, includeDirs: [join(packageRoot(), "proto")] });
  return inferenceDefinitionLoaded;
}

/** `inference.GRPCInferenceService`, typed by the generated code. */
export function inferenceService(): InferenceProto["inference"]["GRPCInferenceService"] {
  inference ??= (grpc.loadPackageDefinition(inferenceDefinition()) as unknown as InferenceProto).inference.GRPCInferenceService;
  return inference;
}
