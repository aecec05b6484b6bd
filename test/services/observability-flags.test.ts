/** The observability flags of `shard` and `gateway`: env twins, and bad values refused naming the flag. */
import { describe, expect, it } from "vitest";
import { parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { usageMessage } from "../helpers/expect-errors.js";

const shardArgs = ["--weights", "w", "--shard", "0/1"];

describe("observability flags", () => {
  it("take their env twins", () => {
    const env = {
      SHARDMAX_METRICS_LISTEN: "0.0.0.0:9100",
      SHARDMAX_OTLP_ENDPOINT: "http://collector:4318/v1/traces",
      SHARDMAX_LOG_FORMAT: "json",
      SHARDMAX_LOG_LEVEL: "warn",
    };
    const parsed = parseFlags(SHARD_FLAGS, shardArgs, env);
    expect(shardConfig(parsed)).toMatchObject({ metricsListen: "0.0.0.0:9100", otlpEndpoint: "http://collector:4318/v1/traces" });
    expect(parsed.values).toMatchObject({ "log-format": "json", "log-level": "warn" });
    const gateway = parseFlags(GATEWAY_FLAGS, ["--shards", "a:1"], { SHARDMAX_SLOW_QUERY_MS: "250" });
    expect(gateway.values["slow-query-ms"]).toBe(250);
  });

  it("are off by default: no metrics listener, no tracing, text logs at info", () => {
    const parsed = parseFlags(SHARD_FLAGS, shardArgs, {});
    expect(shardConfig(parsed)).not.toHaveProperty("metricsListen");
    expect(shardConfig(parsed)).not.toHaveProperty("otlpEndpoint");
    expect(parsed.values).toMatchObject({ "log-format": "text", "log-level": "info" });
  });

  it.each([
    ["--metrics-listen", "9100"],
    ["--otlp-endpoint", "ftp://collector/v1/traces"],
    ["--log-level", "debug"],
    ["--log-format", "xml"],
  ])("refuses a bad %s naming it", (name, value) => {
    expect(usageMessage(() => parseFlags(SHARD_FLAGS, [...shardArgs, name, value], {}))).toContain(name);
  });

  it("refuses a bad --slow-query-ms naming it", () => {
    expect(usageMessage(() => parseFlags(GATEWAY_FLAGS, ["--shards", "a:1", "--slow-query-ms", "-1"], {}))).toContain("--slow-query-ms");
  });
});
