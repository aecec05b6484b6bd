/** Our errors as gRPC statuses: the gRPC code, the message, and our exact code as metadata. */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { CODE_METADATA_KEY, ShardmaxError } from "../errors.js";
import { boundText } from "../text/quote-short.js";

/**
 * The status message travels in the `grpc-message` trailer; HTTP/2 peers cap
 * header blocks (8 KiB by default in grpc-js), and a larger trailer leaves the
 * call, and the calls after it on the channel, hanging. So no message is longer than this.
 */
export const MAX_STATUS_MESSAGE_CHARS = 1024;

export function toServiceError(err: unknown): Partial<ServiceError> {
  const error = ShardmaxError.from(err);
  const metadata = new Metadata();
  metadata.set(CODE_METADATA_KEY, error.code);
  return { code: error.grpcStatus, details: boundText(error.message, MAX_STATUS_MESSAGE_CHARS), metadata };
}

/** A server call's deadline as a Date; "no deadline" as undefined. */
export function callDeadlineOf(call: { getDeadline(): Date | number }): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(Number(deadline)) : undefined;
}
