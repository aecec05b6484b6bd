/**
 * Flag parsing in-process: precedence (flag > env > default), the sources
 * that rules across flags rely on, and the value parsers' accepted forms.
 */
import { describe, expect, it } from "vitest";
import { envName, parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { LOCAL_FLAGS } from "../../services/cli/local-command.js";
import { SHARD_BATCH_DEFAULTS, SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { classRange, hostPort, hostPortList, integer, modelName, shardSplit } from "../../services/cli/values.js";
import { usageMessage } from "../helpers/expect-errors.js";

describe("parseFlags", () => {
  it("takes a flag over its env var, the env var over the default", () => {
    const env = { SHARDMAX_LISTEN: "0.0.0.0:7000", SHARDMAX_THREADS: "3", SHARDMAX_MAX_ROWS: "" };
    const parsed = parseFlags(SHARD_FLAGS, ["--weights", "w.safetensors", "--shard", "0/1", "--threads", "2"], env);
    expect(parsed.values.threads).toBe(2);
    expect(parsed.sources.threads).toBe("flag");
    expect(parsed.values.listen).toBe("0.0.0.0:7000");
    expect(parsed.sources.listen).toBe("env");
    // An empty variable counts as unset.
    expect(parsed.values["max-rows"]).toBe(4096);
    expect(parsed.sources["max-rows"]).toBe("default");
  });

  it("does not even parse an env var that a flag overrides", () => {
    const parsed = parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1", "--listen", "127.0.0.1:0"], { SHARDMAX_LISTEN: "nope" });
    expect(parsed.values.listen).toBe("127.0.0.1:0");
  });

  it("names the env var when a bad value came from there", () => {
    const message = usageMessage(() => parseFlags(SHARD_FLAGS, ["--weights", "w"], { SHARDMAX_DRAIN_MS: "soon" }));
    expect(message).toContain('SHARDMAX_DRAIN_MS="soon"');
    expect(message).toContain("--drain-ms");
  });

  it("maps flag names to env names", () => {
    expect(envName("deadline-ms")).toBe("SHARDMAX_DEADLINE_MS");
    expect(envName("listen")).toBe("SHARDMAX_LISTEN");
  });

  it("builds a frozen ShardConfig; a --shard flag beats SHARDMAX_RANGE", () => {
    const config = shardConfig(parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "1/4"], { SHARDMAX_RANGE: "0:10" }));
    expect(config.range).toEqual({ kind: "split", index: 1, count: 4 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.maxRows).toBe(4096);
    expect(usageMessage(() => shardConfig(parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1", "--range", "0:2"], {})))).toContain("--range");
  });

  it("takes the batching flags, from flags or env, and refuses a queue smaller than one request", () => {
    const config = shardConfig(
      parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1", "--max-batch-rows", "32"], { SHARDMAX_MAX_QUEUE_DELAY_US: "1500" }),
    );
    expect(config).toMatchObject({ maxBatchRows: 32, maxQueueDelayUs: 1500, maxQueueRows: SHARD_BATCH_DEFAULTS.maxQueueRows });
    const message = usageMessage(() => shardConfig(parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1", "--max-queue-rows", "100"], {})));
    expect(message).toContain("--max-queue-rows 100");
    expect(message).toContain("--max-rows");
    expect(shardConfig(parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1"], {})).maxBatchRows).toBe("auto");
    expect(usageMessage(() => parseFlags(SHARD_FLAGS, ["--weights", "w", "--shard", "0/1", "--max-batch-rows", "lots"], {}))).toContain("--max-batch-rows");
  });
});

describe("value parsers", () => {
  it("accepts host:port forms, IPv6 only in brackets", () => {
    for (const ok of ["127.0.0.1:0", "localhost:65535", "shard-0.shards.default.svc:50051", "[::1]:50051", "[::]:80", "0.0.0.0:8080"]) {
      expect(hostPort(ok)).toBe(ok);
    }
    for (const bad of ["nope", "::1:50051", "host:65536", "host:", ":80", "host:-1", "[nope]:80", "a b:1"]) {
      expect(() => hostPort(bad), bad).toThrow(/HOST:PORT/);
    }
    expect(hostPortList("a:1, b:2")).toEqual(["a:1", "b:2"]);
    expect(() => hostPortList("a:1,b")).toThrow(/item 2 "b"/);
  });

  it("checks I/N, START:END and whole numbers", () => {
    expect(shardSplit("0/1")).toEqual({ kind: "split", index: 0, count: 1 });
    for (const bad of ["3/2", "2/2", "0/0", "x", "-1/2", "1/2/3"]) expect(() => shardSplit(bad), bad).toThrow(/I\/N/);
    expect(classRange("0:5")).toEqual({ kind: "range", start: 0, end: 5 });
    for (const bad of ["5:2", "3:3", "a:b", "-1:4"]) expect(() => classRange(bad), bad).toThrow(/START:END/);
    const ms = integer(0);
    expect(ms("0")).toBe(0);
    for (const bad of ["-1", "1.5", "1e3", "", "0x10", "99999999999999999"]) expect(() => ms(bad), bad).toThrow(/whole number/);
  });

  it("takes a V2 model name that is one URL path segment, from --model-name or SHARDMAX_MODEL_NAME (gateway and local)", () => {
    for (const ok of ["shardmax", "llama-3.1_head", "m"]) expect(modelName(ok)).toBe(ok);
    for (const bad of ["", "a/b", "-x", ".x", "a b", "x".repeat(129), "é"]) expect(() => modelName(bad), bad).toThrow(/model name/);
    for (const table of [GATEWAY_FLAGS, LOCAL_FLAGS]) {
      const argv = table === GATEWAY_FLAGS ? ["--shards", "a:1"] : [];
      expect(parseFlags(table, argv, {}).values["model-name"]).toBe("shardmax");
      expect(parseFlags(table, argv, { SHARDMAX_MODEL_NAME: "head" }).values["model-name"]).toBe("head");
      expect(() => parseFlags(table, [...argv, "--model-name", "a/b"], {})).toThrow(/--model-name "a\/b": expected a model name/);
    }
  });
});
