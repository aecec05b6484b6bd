/** The test-side Prometheus text parser: it must read what prom-client writes, and refuse what is malformed. */
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parsePrometheusText, total } from "./prometheus-text.js";

describe("parsePrometheusText", () => {
  it("reads counters, labels with escapes and histograms as prom-client writes them", async () => {
    const registry = new Registry();
    const c = new Counter({ name: "x_total", help: "h", labelNames: ["a"], registers: [registry] });
    c.inc({ a: 'q"uo\\te\nline' }, 3);
    c.inc({ a: "b" }, 2);
    const h = new Histogram({ name: "d_seconds", help: "h", buckets: [0.1, 1], registers: [registry] });
    h.observe(0.05);
    h.observe(5);
    const parsed = parsePrometheusText(await registry.metrics());
    expect(total(parsed, "x_total", { a: 'q"uo\\te\nline' })).toBe(3);
    expect(total(parsed, "x_total")).toBe(5);
    expect(total(parsed, "d_seconds_count")).toBe(2);
    expect(total(parsed, "d_seconds_sum")).toBeCloseTo(5.05, 12);
    expect(total(parsed, "d_seconds_bucket", { le: "0.1" })).toBe(1);
    expect(total(parsed, "d_seconds_bucket", { le: "+Inf" })).toBe(2);
    expect(parsed.types.get("d_seconds")).toBe("histogram");
  });

  it.each([
    ["an undeclared family", "y 1"],
    ["a bad value", "# TYPE y gauge\ny one"],
    ["a repeated series", '# TYPE y gauge\ny{a="1"} 1\ny{a="1"} 2'],
    ["an unterminated label", '# TYPE y gauge\ny{a="1} 1'],
    ["a bad escape", '# TYPE y gauge\ny{a="\\x"} 1'],
    ["a bad type", "# TYPE y meter"],
    ["a missing value", "# TYPE y gauge\ny"],
  ])("refuses %s", (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
