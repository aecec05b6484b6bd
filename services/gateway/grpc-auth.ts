/**
 * API keys on the gateway's gRPC server: one interceptor for every service on
 * it (shardmax.v1.Softmax and any other registered there), so no handler can
 * forget the check. The call is refused at its metadata, before the message
 * is read; the first message's rows are charged to the key.
 */
import * as grpc from "@grpc/grpc-js";
import { toServiceError } from "../../shared/grpc/errors.js";
import type { Gatekeeper } from "./auth.js";
import { RateLimitedError } from "./key-quota.js";

export function grpcAuthInterceptor(gate: Gatekeeper): grpc.ServerInterceptor {
  return (method, call) => {
    if (!gate.guardsMethod(method.path)) return new grpc.ServerInterceptingCall(call);
    let caller: string | null = null;
    let refused = false;
    const refuse = (err: unknown) => {
      refused = true;
      const status = toServiceError(err);
      if (err instanceof RateLimitedError) status.metadata!.set("retry-after", String(err.retryAfterS));
      call.sendStatus({ code: status.code!, details: status.details!, metadata: status.metadata! });
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const value = metadata.get("authorization")[0];
        try {
          caller = gate.admit(typeof value === "string" ? value : undefined);
        } catch (err) {
          refuse(err);
          return;
        }
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        if (refused) return;
        if (caller !== null) gate.chargeRows(caller, message);
        next(message);
      })
      .withOnReceiveHalfClose((next) => {
        if (!refused) next();
      })
      .build();
    return new grpc.ServerInterceptingCall(call, { start: (next) => next(listener) });
  };
}
