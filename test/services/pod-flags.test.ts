/**
 * The flags a Kubernetes deployment relies on: a shard's range from its pod
 * ordinal (`--ranges N` with `--pod-index I`, I mod N), and the gateway's
 * `dns:NAME:PORT` shard entries.
 */
import { describe, expect, it } from "vitest";
import { parseFlags } from "../../services/cli/flags.js";
import { GATEWAY_FLAGS } from "../../services/cli/gateway-command.js";
import { SHARD_FLAGS, shardConfig } from "../../services/cli/shard-command.js";
import { shardAddressList } from "../../services/cli/values.js";
import { usageMessage } from "../helpers/expect-errors.js";

const shard = (argv: string[], env: Record<string, string> = {}) => shardConfig(parseFlags(SHARD_FLAGS, ["--weights", "w", ...argv], env));

describe("--ranges N --pod-index I", () => {
  it("serves range I mod N, so pods N, 2N … are replicas of pods 0, 1 …", () => {
    const ranges = Array.from({ length: 16 }, (_, i) => shard([], { SHARDMAX_RANGES: "8", SHARDMAX_POD_INDEX: String(i) }).range);
    expect(ranges).toEqual(Array.from({ length: 16 }, (_, i) => ({ kind: "split", index: i % 8, count: 8 })));
    expect(shard(["--ranges", "3", "--pod-index", "7"]).range).toEqual({ kind: "split", index: 1, count: 3 });
  });

  it("needs the pod index, and says where it comes from in Kubernetes", () => {
    expect(usageMessage(() => shard(["--ranges", "2"]))).toMatch(/--pod-index I or SHARDMAX_POD_INDEX .*apps\.kubernetes\.io\/pod-index/);
    expect(usageMessage(() => shard(["--ranges", "0", "--pod-index", "1"]))).toMatch(/--ranges "0": expected a whole number ≥ 1/);
    expect(usageMessage(() => shard(["--ranges", "2"], { SHARDMAX_POD_INDEX: "-1" }))).toMatch(/SHARDMAX_POD_INDEX="-1"/);
  });

  it("is one of the three ways to choose the range; a flag beats the others' environment", () => {
    expect(usageMessage(() => shard(["--ranges", "2", "--shard", "0/2", "--pod-index", "0"]))).toMatch(/--shard and --ranges both choose/);
    expect(usageMessage(() => shard([], { SHARDMAX_RANGES: "2", SHARDMAX_RANGE: "0:5", SHARDMAX_POD_INDEX: "0" }))).toMatch(
      /SHARDMAX_RANGE and SHARDMAX_RANGES both/,
    );
    expect(shard(["--shard", "1/4"], { SHARDMAX_RANGES: "2", SHARDMAX_POD_INDEX: "0" }).range).toEqual({ kind: "split", index: 1, count: 4 });
    // The pod index is in every pod's environment; it is simply unused by --shard or --range …
    expect(shard(["--range", "0:5"], { SHARDMAX_POD_INDEX: "3" }).range).toEqual({ kind: "range", start: 0, end: 5 });
    // … but typed by hand without --ranges it is a mistake.
    expect(usageMessage(() => shard(["--shard", "0/2", "--pod-index", "1"]))).toMatch(/--pod-index only goes with --ranges/);
    expect(usageMessage(() => shard([]))).toMatch(/--shard I\/N, --range START:END or --ranges N/);
  });
});

describe("gateway --shards", () => {
  it("takes HOST:PORT entries and dns:NAME:PORT entries", () => {
    expect(shardAddressList("dns:shardmax-shard:50051")).toEqual(["dns:shardmax-shard:50051"]);
    expect(shardAddressList("dns:shardmax-shard.prod.svc.cluster.local.:50051, 10.0.0.7:50051")).toEqual([
      "dns:shardmax-shard.prod.svc.cluster.local.:50051",
      "10.0.0.7:50051",
    ]);
    const parsed = parseFlags(GATEWAY_FLAGS, [], { SHARDMAX_SHARDS: "dns:s:1", SHARDMAX_RESOLVE_INTERVAL_MS: "250" });
    expect(parsed.values.shards).toEqual(["dns:s:1"]);
    expect(parsed.values["resolve-interval-ms"]).toBe(250);
  });

  it("refuses a dns: entry without a name or a usable port, naming the item", () => {
    for (const bad of ["dns:", "dns:name", "dns::50051", "dns:name:0", "dns:na_me:1", "dns:[::1]:1"]) {
      expect(() => shardAddressList(bad), bad).toThrow(/item 1 .*dns:NAME:PORT/);
    }
    expect(() => shardAddressList("a:1,dns:x")).toThrow(/item 2 "dns:x"/);
  });

  it("keeps --hosts-file (a test hook) out of --help", async () => {
    const { formatHelp } = await import("../../services/cli/flags.js");
    const help = formatHelp("u", "s", GATEWAY_FLAGS);
    expect(help).toContain("--resolve-interval-ms");
    expect(help).not.toContain("hosts-file");
  });
});
