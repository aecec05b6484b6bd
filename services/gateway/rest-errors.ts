/**
 * Every REST failure as `{"error": {"code", "message"}}` with the status from
 * the one error table; fastify's own errors (schema, JSON, body size, media
 * type) and the HTTP parser's (bad request line, headers too large, timeouts)
 * are translated into our codes first. Strings from the request are quoted
 * short (shared/text/quote-short.ts), so no request can make a large message.
 */
import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { boundText, quoteShort } from "../../shared/text/quote-short.js";

interface SchemaIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Longest field path a message names; paths come from the request's own keys. */
const MAX_FIELD_CHARS = 128;

/** "/hidden/0/3" → "hidden[0][3]" */
function fieldName(path: string): string {
  const name = path
    .split("/")
    .filter(Boolean)
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join("");
  return boundText(name, MAX_FIELD_CHARS);
}

function fromSchema(issue: SchemaIssue): ShardmaxError {
  // Nested objects (sample) name their parent: "sample.n is required", not "n".
  const within = (name: string) => (fieldName(issue.instancePath) ? `${fieldName(issue.instancePath)}.${name}` : name);
  if (issue.keyword === "required") return invalidField(within(String(issue.params.missingProperty)), "is required");
  if (issue.keyword === "additionalProperties") return invalidField(within(quoteShort(String(issue.params.additionalProperty))), "is not a known field");
  return invalidField(fieldName(issue.instancePath) || "body", issue.message ?? "is invalid");
}

export function toShardmaxError(err: FastifyError | Error, bodyLimitBytes: number): ShardmaxError {
  if (err instanceof ShardmaxError) return err;
  const fastifyError = err as FastifyError & { validation?: SchemaIssue[] };
  if (fastifyError.validation?.length) return fromSchema(fastifyError.validation[0]!);
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ShardmaxError("BODY_TOO_LARGE", `body: over --body-limit-bytes ${bodyLimitBytes}`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ShardmaxError("UNSUPPORTED_MEDIA_TYPE", "body: send Content-Type: application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ShardmaxError("MALFORMED_REQUEST", "body: is empty; send a JSON object");
  }
  if (err instanceof SyntaxError || fastifyError.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return new ShardmaxError("MALFORMED_REQUEST", `body: is not valid JSON (${boundText(err.message, 200)})`);
  }
  if (fastifyError.statusCode && fastifyError.statusCode < 500) {
    return new ShardmaxError("MALFORMED_REQUEST", boundText(err.message, 200));
  }
  return ShardmaxError.from(err);
}

export function envelope(error: ShardmaxError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}

/** `format`: the protocol's error body (shardmax's envelope for /v1; /v2 has its own). */
export function errorHandler(log: Logger, bodyLimitBytes: number, format: (error: ShardmaxError) => object = envelope) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const error = toShardmaxError(err, bodyLimitBytes);
    if (error.httpStatus >= 500 && !["UNAVAILABLE", "NOT_READY", "OVERLOADED"].includes(error.code)) {
      log.error("request failed", { requestId: request.id, url: boundText(request.url, 200), code: error.code, error: error.message });
    }
    if (error.code === "OVERLOADED") void reply.header("retry-after", "1");
    void reply.status(error.httpStatus).send(format(error));
  };
}

/**
 * Errors of the HTTP parser, before any route: Node would answer them with a
 * bare status line (or fastify with its own envelope). The status follows the
 * parser's reason; the connection is closed, since the stream may be out of step.
 */
export function clientErrorHandler(bodyLimitBytes: number) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, error] = parserError(err, bodyLimitBytes);
    const body = JSON.stringify(envelope(error));
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : status === 413 ? "Payload Too Large" : "Bad Request"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}

function parserError(err: Error & { code?: string }, bodyLimitBytes: number): [number, ShardmaxError] {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return [431, new ShardmaxError("MALFORMED_REQUEST", "headers: larger than the server accepts (16 KiB)")];
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, new ShardmaxError("DEADLINE_EXCEEDED", "request: not received within --request-timeout-ms")];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
    case "HPE_INVALID_CHUNK_SIZE":
      return [400, new ShardmaxError("MALFORMED_REQUEST", "body: bad chunk size")];
    default:
      return [400, new ShardmaxError("MALFORMED_REQUEST", `request: not valid HTTP/1.1 (${err.code ?? "parse error"}; body limit ${bodyLimitBytes} bytes)`)];
  }
}
