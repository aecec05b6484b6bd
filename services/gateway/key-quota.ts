/**
 * Per-key quotas: a token bucket of requests and one of rows per API key,
 * each holding at most one second of its rate. A request is admitted while
 * the key's buckets are not empty, and its rows are then taken even into
 * debt, so a request larger than one second's rows is still served once and
 * the key waits out the debt. Refusals say when to come back (Retry-After).
 */
import type { Clock } from "../../shared/batching/clock.js";
import { ShardmaxError } from "../../shared/errors.js";

export interface KeyRateLimit {
  requestsPerS?: number | undefined;
  rowsPerS?: number | undefined;
}

/** `100r`, `5000rows`, or both, comma-separated: `100r,5000rows`. */
export function parseKeyRateLimit(raw: string): KeyRateLimit {
  const limit: KeyRateLimit = {};
  for (const part of raw.split(",")) {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(r|rows)\s*$/.exec(part);
    const value = Number(match?.[1]);
    if (!match || !(value > 0)) throw new Error("expected N r (requests/s) and/or N rows (rows/s), e.g. 100r,5000rows");
    const field = match[2] === "r" ? "requestsPerS" : "rowsPerS";
    if (limit[field] !== undefined) throw new Error(`${match[2]} given twice`);
    limit[field] = value;
  }
  return limit;
}

class Bucket {
  private tokens: number;
  private atMs: number;

  constructor(
    private readonly perS: number,
    nowMs: number,
  ) {
    this.tokens = perS;
    this.atMs = nowMs;
  }

  /** Seconds until the bucket is not empty; 0 when it is not empty now. */
  waitS(nowMs: number): number {
    this.tokens = Math.min(this.perS, this.tokens + ((nowMs - this.atMs) / 1000) * this.perS);
    this.atMs = nowMs;
    return this.tokens > 0 ? 0 : (1 - this.tokens) / this.perS;
  }

  take(n: number): void {
    this.tokens -= n;
  }
}

export class RateLimitedError extends ShardmaxError {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super("RATE_LIMITED", message);
  }
}

export class KeyQuota {
  private readonly buckets = new Map<string, { requests: Bucket | null; rows: Bucket | null }>();

  constructor(
    private readonly limit: KeyRateLimit,
    private readonly clock: Pick<Clock, "now">,
  ) {}

  /** Counts one request of `caller`, or throws RATE_LIMITED when either bucket is empty. */
  admit(caller: string): void {
    const now = this.clock.now();
    const b = this.bucketsOf(caller, now);
    const requestsWait = b.requests?.waitS(now) ?? 0;
    const wait = Math.max(requestsWait, b.rows?.waitS(now) ?? 0);
    if (wait > 0) {
      const which = requestsWait > 0 ? `${this.limit.requestsPerS} requests/s` : `${this.limit.rowsPerS} rows/s`;
      throw new RateLimitedError(`API key over its quota of ${which} (--key-rate-limit); retry in ${Math.ceil(wait)} s`, Math.ceil(wait));
    }
    b.requests?.take(1);
  }

  /** Takes an admitted request's rows (possibly into debt). */
  chargeRows(caller: string, rows: number): void {
    this.bucketsOf(caller, this.clock.now()).rows?.take(rows);
  }

  private bucketsOf(caller: string, now: number) {
    let b = this.buckets.get(caller);
    if (!b) {
      b = {
        requests: this.limit.requestsPerS ? new Bucket(this.limit.requestsPerS, now) : null,
        rows: this.limit.rowsPerS ? new Bucket(this.limit.rowsPerS, now) : null,
      };
      this.buckets.set(caller, b);
    }
    return b;
  }
}
