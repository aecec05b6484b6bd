/**
 * The `shardmax.v1.Softmax` service as the benchmark's baselines (A, and B's
 * gateway) serve it, so one load generator drives them and shardmax alike:
 * bind, report `listening` and `ready` to the bench, serve until told to
 * stop, then shut down.
 */
import * as grpc from "@grpc/grpc-js";
import { toServiceError } from "../shared/grpc/errors.js";
import { DEFAULT_MAX_MESSAGE_BYTES, messageLimits, shardmaxProto } from "../shared/grpc/proto.js";
import { bindInsecure } from "../shared/grpc/server-lifecycle.js";
import { emit, untilStopped } from "./child-process.js";

/** A Query as proto-loader decodes it. */
export interface QueryRequest {
  rows: number;
  dim: number;
  hidden: Buffer;
  topK?: number;
  temperature?: number;
}

export interface SoftmaxBaseline {
  listen: string;
  /** The `model` of an Info answer. */
  model: object;
  query(request: QueryRequest): Promise<object>;
  /** Extra fields of the `listening` event. */
  listening?: object;
}

/** Serves until the bench says stop; resolves once the server is down. */
export async function serveSoftmax(baseline: SoftmaxBaseline): Promise<void> {
  const server = new grpc.Server(messageLimits(DEFAULT_MAX_MESSAGE_BYTES));
  server.addService(shardmaxProto().Softmax.service, {
    info: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, { model: baseline.model, ready: true }),
    query: (call: grpc.ServerUnaryCall<QueryRequest, object>, callback: grpc.sendUnaryData<object>) => {
      baseline.query(call.request).then(
        (response) => callback(null, response),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
  });
  const port = await bindInsecure(server, baseline.listen);
  emit({ event: "listening", port, ...baseline.listening });
  emit({ event: "ready" });
  await untilStopped();
  server.forceShutdown();
}
