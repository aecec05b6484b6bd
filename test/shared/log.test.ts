/** Log lines: text or one JSON object per line, and the level filter. */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../shared/log.js";

describe("createLogger", () => {
  it("writes one JSON object per event whose own keys a field cannot overwrite", () => {
    const lines: string[] = [];
    const log = createLogger("gateway", (l) => lines.push(l), { format: "json" }).child("requests");
    log.warn("slow request", { requestId: "r-1", ms: 12, msg: "forged", level: "info" });
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(event).toMatchObject({ level: "warn", role: "gateway/requests", msg: "slow request", requestId: "r-1", ms: 12 });
    expect(Number.isNaN(Date.parse(String(event.time)))).toBe(false);
  });

  it("drops lines below the level, in children too", () => {
    const lines: string[] = [];
    const log = createLogger("shard", (l) => lines.push(l), { level: "warn" });
    log.info("loading");
    log.child("x").info("loading");
    log.warn("careful", { a: 1 });
    log.child("x").error("broken");
    expect(lines.map((l) => l.split(" ").slice(1, 3).join(" "))).toEqual(["warn shard", "error shard/x"]);
    expect(lines[0]).toMatch(/ careful a=1$/);
  });
});
