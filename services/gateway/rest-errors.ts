/**
 * Every REST failure as `{"error": {"code", "message"}}` with the status from
 * the one error table; fastify's own errors (schema, JSON, body size, media
 * type) are translated into our codes first.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ShardmaxError, invalidField } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";

interface SchemaIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "/hidden/0/3" → "hidden[0][3]" */
function fieldName(path: string): string {
  return path
    .split("/")
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join("");
}

function fromSchema(issue: SchemaIssue): ShardmaxError {
  if (issue.keyword === "required") return invalidField(String(issue.params.missingProperty), "is required");
  if (issue.keyword === "additionalProperties") return invalidField(String(issue.params.additionalProperty), "is not a known field");
  return invalidField(fieldName(issue.instancePath) || "body", issue.message ?? "is invalid");
}

export function toShardmaxError(err: FastifyError | Error): ShardmaxError {
  if (err instanceof ShardmaxError) return err;
  const fastifyError = err as FastifyError & { validation?: SchemaIssue[] };
  if (fastifyError.validation?.length) return fromSchema(fastifyError.validation[0]!);
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ShardmaxError("BODY_TOO_LARGE", `body: over the limit of ${err.message.match(/\d+/)?.[0] ?? "the configured"} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ShardmaxError("UNSUPPORTED_MEDIA_TYPE", "body: send Content-Type: application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ShardmaxError("MALFORMED_REQUEST", "body: is empty; send a JSON object");
  }
  if (err instanceof SyntaxError || fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return new ShardmaxError("MALFORMED_REQUEST", `body: is not valid JSON (${err.message})`);
  }
  if (fastifyError.statusCode && fastifyError.statusCode < 500) {
    return new ShardmaxError("MALFORMED_REQUEST", err.message);
  }
  return ShardmaxError.from(err);
}

export function errorHandler(log: Logger) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const error = toShardmaxError(err);
    if (error.httpStatus >= 500 && error.code !== "UNAVAILABLE" && error.code !== "NOT_READY") {
      log.error("request failed", { url: request.url, code: error.code, error: error.message });
    }
    void reply.status(error.httpStatus).send({ error: { code: error.code, message: error.message } });
  };
}
