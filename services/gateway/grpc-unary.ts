/**
 * How every gateway gRPC service answers a unary call: the caller's deadline
 * as a Date, a request id (the caller's x-request-id or a new one) sent back
 * in the initial metadata, and any failure as a gRPC status from the one
 * error table. A handler may throw synchronously or reject: both are statuses.
 */
import * as grpc from "@grpc/grpc-js";
import { callDeadlineOf, toServiceError } from "../../shared/grpc/errors.js";
import { REQUEST_ID_KEY, requestIdOf } from "./request-id.js";

export type UnaryHandler<Req, Res> = (request: Req, deadline: Date | undefined, requestId: string) => Res | Promise<Res>;

export function grpcUnary<Req, Res>(handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const requestId = requestIdOf(call.metadata.get(REQUEST_ID_KEY));
    const sent = new grpc.Metadata();
    sent.set(REQUEST_ID_KEY, requestId);
    call.sendMetadata(sent);
    Promise.resolve()
      .then(() => handler(call.request, callDeadlineOf(call), requestId))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}
