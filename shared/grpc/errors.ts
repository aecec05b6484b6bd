/** Our errors as gRPC statuses: the gRPC code, the message, and our exact code as metadata. */
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { CODE_METADATA_KEY, ShardmaxError } from "../errors.js";

export function toServiceError(err: unknown): Partial<ServiceError> {
  const error = ShardmaxError.from(err);
  const metadata = new Metadata();
  metadata.set(CODE_METADATA_KEY, error.code);
  return { code: error.grpcStatus, details: error.message, metadata };
}
