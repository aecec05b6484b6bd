/**
 * The request id: the caller's `x-request-id` (REST header or gRPC metadata)
 * when it is a short token, else a new UUID. It is echoed in the response
 * (header / initial metadata) and carried in the log lines of the request, so
 * one request can be followed from a client's log to the gateway's.
 */
import { randomUUID } from "node:crypto";

export const REQUEST_ID_KEY = "x-request-id";

/** Ids a caller may choose: what fits in a log field unquoted and cannot forge a line. */
const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(sent: unknown): string {
  const value = Array.isArray(sent) ? sent[0] : sent;
  return typeof value === "string" && ACCEPTED.test(value) ? value : randomUUID();
}
