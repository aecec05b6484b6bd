/**
 * Value parsers for flags. Each returns the typed value or throws a ValueError
 * whose message states the expected form, so the caller can prefix it with
 * the flag (or environment variable) the value came from.
 */
import { ValueError } from "./flags.js";

/** A whole number in [min, max], written in plain decimal digits. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  const expected = max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
  return (raw) => {
    const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new ValueError(`expected ${expected}`);
    return value;
  };
}

export function nonEmpty(what: string): (raw: string) => string {
  return (raw) => {
    if (raw.trim() === "") throw new ValueError(`expected ${what}`);
    return raw;
  };
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;
const HOST_PORT_FORM = "HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:50051, shard-0.shards:50051 or [::1]:50051";

export interface HostPort {
  host: string;
  port: number;
}

/** Splits and checks host:port; an IPv6 host must be bracketed, as in a URL. */
export function splitHostPort(raw: string): HostPort {
  const match = /^(\[([^\]]*)\]|[^:[\]]*):(\d{1,5})$/.exec(raw.trim());
  const bracketed = match?.[2];
  const host = bracketed ?? match?.[1] ?? "";
  const port = Number(match?.[3]);
  const hostOk = bracketed !== undefined ? bracketed.includes(":") && IPV6.test(bracketed) : HOSTNAME.test(host);
  if (!match || !hostOk || !(port >= 0 && port <= 65535)) throw new ValueError(`expected ${HOST_PORT_FORM}`);
  return { host, port };
}

/** Validates and returns the address unchanged (gRPC and fastify take it as written). */
export function hostPort(raw: string): string {
  splitHostPort(raw);
  return raw.trim();
}

export function hostPortList(raw: string): string[] {
  return listOf(raw, hostPort, "HOST:PORT", HOST_PORT_FORM);
}

const DNS_FORM = "dns:NAME:PORT with a DNS name and a port from 1 to 65535, e.g. dns:shardmax-shard:50051";

/**
 * Shard addresses: HOST:PORT, or dns:NAME:PORT standing for every address
 * NAME resolves to (a headless Service: every ready shard pod).
 */
export function shardAddressList(raw: string): string[] {
  const entry = (item: string) => {
    if (!item.startsWith("dns:")) return hostPort(item);
    const rest = item.slice("dns:".length);
    let parts: HostPort;
    try {
      parts = splitHostPort(rest);
    } catch {
      throw new ValueError(`expected ${DNS_FORM}`);
    }
    if (parts.port === 0 || rest.startsWith("[")) throw new ValueError(`expected ${DNS_FORM}`);
    return item;
  };
  return listOf(raw, entry, "HOST:PORT or dns:NAME:PORT", `${HOST_PORT_FORM}, or ${DNS_FORM}`);
}

function listOf(raw: string, parse: (item: string) => string, short: string, form: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.length === 0 || items.every((s) => s === "")) throw new ValueError(`expected a comma-separated list of ${form}`);
  return items.map((item, i) => {
    if (item === "") throw new ValueError(`item ${i + 1} is empty; expected a comma-separated list of ${short}`);
    try {
      return parse(item);
    } catch (err) {
      if (err instanceof ValueError) throw new ValueError(`item ${i + 1} ${JSON.stringify(item)}: ${err.message}`);
      throw err;
    }
  });
}

/** "I/N": this process is shard I of N equal splits, 0 ≤ I < N. */
export function shardSplit(raw: string): { kind: "split"; index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(raw.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  const form = "expected I/N with 0 ≤ I < N, e.g. 0/4";
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count)) throw new ValueError(form);
  if (count < 1) throw new ValueError(`N must be at least 1; ${form}`);
  if (index >= count) throw new ValueError(`index ${index} is not below the count ${count}; ${form}`);
  return { kind: "split", index, count };
}

/** "START:END": the half-open class range [START, END), START < END. */
export function classRange(raw: string): { kind: "range"; start: number; end: number } {
  const match = /^(\d+):(\d+)$/.exec(raw.trim());
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  const form = "expected START:END, the half-open class range [START, END) with START < END, e.g. 0:65536";
  if (!match || !Number.isSafeInteger(start) || !Number.isSafeInteger(end)) throw new ValueError(form);
  if (start >= end) throw new ValueError(`START ${start} is not below END ${end}; ${form}`);
  return { kind: "range", start, end };
}

/** A V2 model name: one URL path segment, as KServe and Triton name models. */
export function modelName(raw: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(raw))
    throw new ValueError(`expected a model name: letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128 characters`);
  return raw;
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    const value = raw.trim() as T;
    if (!choices.includes(value)) throw new ValueError(`expected one of ${choices.join(", ")}`);
    return value;
  };
}

/** An absolute http:// or https:// URL, e.g. an OTLP/HTTP endpoint. */
export function httpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ValueError("expected an http:// or https:// URL, e.g. http://otel-collector:4318/v1/traces");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ValueError("expected an http:// or https:// URL, e.g. http://otel-collector:4318/v1/traces");
  return url.toString();
}
