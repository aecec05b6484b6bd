/**
 * One error type for the whole system. Each code is declared once with its gRPC
 * status and its HTTP status, so a REST client and a gRPC client see the same
 * failure the same way, and a gRPC error from a shard keeps its meaning when
 * the gateway passes it on.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";

export const ERROR_CODES = {
  INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, doc: "A field of the request is missing or wrong; the message names it." },
  MALFORMED_REQUEST: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, doc: "The body is not valid JSON or not a JSON object." },
  NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, doc: "No such route or method." },
  UNSUPPORTED_MEDIA_TYPE: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 415, doc: "The body is not application/json." },
  BODY_TOO_LARGE: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 413, doc: "The request body is over the configured limit." },
  REQUEST_TOO_LARGE: {
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 413,
    doc: "The answer would cost more than a per-request limit; the message names the limit and the value.",
  },
  OVERLOADED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 503, doc: "The gateway holds as many rows as --max-inflight-rows allows; retry after a moment." },
  RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429, doc: "A queue or batch limit was reached; retry later." },
  UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, doc: "A class range has no reachable shard; the message names the range." },
  NOT_READY: { grpc: GrpcStatus.UNAVAILABLE, http: 503, doc: "The gateway has not yet seen a complete shard set." },
  MODEL_MISMATCH: {
    grpc: GrpcStatus.FAILED_PRECONDITION,
    http: 409,
    doc: "Shards disagree on the head (fingerprint or shape) or their ranges do not tile [0, V).",
  },
  DEADLINE_EXCEEDED: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504, doc: "The query did not complete within its deadline." },
  CANCELLED: { grpc: GrpcStatus.CANCELLED, http: 499, doc: "The caller went away before the answer was ready." },
  UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401, doc: "API keys are on and the request carries no valid `Authorization: Bearer KEY`." },
  RATE_LIMITED: {
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    http: 429,
    doc: "The API key is over its --key-rate-limit (requests or rows per second); retry after Retry-After seconds.",
  },
  INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, doc: "A bug or an unexpected failure; the message says where." },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ShardmaxError extends Error {
  override readonly name = "ShardmaxError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_CODES[this.code].grpc;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  /** Wraps anything thrown into our codes; a gRPC error keeps its status. */
  static from(err: unknown, fallback: ErrorCode = "INTERNAL"): ShardmaxError {
    if (err instanceof ShardmaxError) return err;
    if (isGrpcError(err)) {
      // Our own servers attach the exact code as metadata; other peers give only the status.
      const sent = err.metadata?.get(CODE_METADATA_KEY)[0];
      const code = typeof sent === "string" && sent in ERROR_CODES ? (sent as ErrorCode) : codeFromGrpc(err.code);
      return new ShardmaxError(code, err.details || err.message, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ShardmaxError(fallback, message, { cause: err });
  }
}

/** Shorthand for the most common error: a named field with a reason. */
export function invalidField(field: string, reason: string): ShardmaxError {
  return new ShardmaxError("INVALID_ARGUMENT", `${field}: ${reason}`);
}

/** Maps a gRPC status back to the first code of ours that carries it. */
export function codeFromGrpc(grpcStatus: number): ErrorCode {
  switch (grpcStatus) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.OUT_OF_RANGE:
      return "INVALID_ARGUMENT";
    case GrpcStatus.NOT_FOUND:
    case GrpcStatus.UNIMPLEMENTED:
      return "NOT_FOUND";
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case GrpcStatus.UNAVAILABLE:
      return "UNAVAILABLE";
    case GrpcStatus.FAILED_PRECONDITION:
      return "MODEL_MISMATCH";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case GrpcStatus.CANCELLED:
      return "CANCELLED";
    case GrpcStatus.UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "INTERNAL";
  }
}

/** gRPC trailing metadata key carrying our error code next to the gRPC status. */
export const CODE_METADATA_KEY = "shardmax-code";

interface GrpcLikeError {
  metadata?: { get(key: string): unknown[] };
  code: number;
  details: string;
  message: string;
}

function isGrpcError(err: unknown): err is GrpcLikeError {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { code?: unknown }).code === "number" &&
    typeof (err as { details?: unknown }).details === "string"
  );
}
