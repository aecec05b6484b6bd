/**
 * Back-pressure on a gRPC server stream: after `write()` returned false,
 * wait until grpc-js can take more, or until the call is gone (after which
 * nothing more is written).
 */
import type * as grpc from "@grpc/grpc-js";

export function drained(call: grpc.ServerWritableStream<unknown, unknown>, gone: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      gone.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    gone.addEventListener("abort", done, { once: true });
  });
}
