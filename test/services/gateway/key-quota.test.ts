/** Per-key token buckets on a manual clock: refusals with Retry-After, refill, rows taken into debt, keys apart. */
import { describe, expect, it } from "vitest";
import { rowsOf } from "../../../services/gateway/auth.js";
import { KeyQuota, parseKeyRateLimit, RateLimitedError } from "../../../services/gateway/key-quota.js";
import { ManualClock } from "../../helpers/manual-clock.js";

function refusal(fn: () => void): RateLimitedError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RateLimitedError);
    return err as RateLimitedError;
  }
  throw new Error("expected RATE_LIMITED");
}

describe("--key-rate-limit values", () => {
  it("reads requests, rows or both", () => {
    expect(parseKeyRateLimit("100r")).toEqual({ requestsPerS: 100 });
    expect(parseKeyRateLimit("5000rows")).toEqual({ rowsPerS: 5000 });
    expect(parseKeyRateLimit("100r,5000rows")).toEqual({ requestsPerS: 100, rowsPerS: 5000 });
  });
  it.each(["", "0r", "-1r", "10", "10x", "1r,2r", "r"])("refuses %j", (raw) => {
    expect(() => parseKeyRateLimit(raw)).toThrow();
  });
});

describe("KeyQuota", () => {
  it("admits a second of requests at once, then refuses with the wait, then refills", async () => {
    const clock = new ManualClock();
    const quota = new KeyQuota({ requestsPerS: 4 }, clock);
    for (let i = 0; i < 4; i++) quota.admit("a");
    const err = refusal(() => quota.admit("a"));
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.retryAfterS).toBe(1);
    expect(err.message).toContain("4 requests/s");
    // Another key has its own bucket.
    quota.admit("b");
    await clock.advance(250);
    quota.admit("a");
    refusal(() => quota.admit("a"));
  });

  it("takes a large request's rows into debt and refuses until the debt is paid", async () => {
    const clock = new ManualClock();
    const quota = new KeyQuota({ rowsPerS: 10 }, clock);
    quota.admit("a");
    quota.chargeRows("a", 50);
    const err = refusal(() => quota.admit("a"));
    expect(err.retryAfterS).toBe(5);
    expect(err.message).toContain("10 rows/s");
    await clock.advance(4000);
    refusal(() => quota.admit("a"));
    await clock.advance(1001);
    quota.admit("a");
  });
});

describe("rowsOf", () => {
  it("reads gRPC rows, REST hidden and V2 shapes, and counts anything else as one row", () => {
    expect(rowsOf({ rows: 7 })).toBe(7);
    expect(rowsOf({ hidden: [[1], [2], [3]] })).toBe(3);
    expect(rowsOf({ inputs: [{ shape: [5, 16] }] })).toBe(5);
    for (const odd of [null, "x", { rows: -1 }, { rows: 1e20 }, { hidden: "x" }, { inputs: [{ shape: "x" }] }]) expect(rowsOf(odd)).toBe(1);
  });
});
