/**
 * Shard discovery: dns:NAME:PORT entries become every address NAME has, looked
 * up again once per interval; a failed lookup keeps the last answer, a name
 * with no address is an empty answer; the test-only hosts file reads like
 * /etc/hosts.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostsFileLookup, joinHostPort, type NameLookup, shardResolver, systemLookup } from "../../../services/gateway/discovery.js";
import { createLogger, silentLogger } from "../../../shared/log.js";
import { tempDir } from "../../helpers/heads.js";

function scripted(answers: Record<string, (string[] | Error)[]>): NameLookup & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (name: string) => {
    calls.push(name);
    const next = answers[name]!.length > 1 ? answers[name]!.shift()! : answers[name]![0]!;
    if (next instanceof Error) throw next;
    return next;
  };
  return Object.assign(lookup, { calls });
}

describe("shardResolver", () => {
  it("expands dns: entries into every address, keeps fixed entries, and brackets IPv6", async () => {
    const lookup = scripted({ shards: [["10.0.0.9", "10.0.0.3", "fd00::7"]] });
    const resolve = shardResolver(["10.1.1.1:7000", "dns:shards:50051"], { resolveIntervalMs: 1000, lookup, log: silentLogger });
    expect(await resolve()).toEqual(["10.1.1.1:7000", "10.0.0.3:50051", "10.0.0.9:50051", "[fd00::7]:50051"]);
  });

  it("looks names up again once per interval, however often it is asked", async () => {
    let now = 0;
    const lookup = scripted({ shards: [["10.0.0.1"], ["10.0.0.1", "10.0.0.2"], ["10.0.0.2"]] });
    const resolve = shardResolver(["dns:shards:1"], { resolveIntervalMs: 1000, lookup, log: silentLogger, now: () => now });
    expect(await resolve()).toEqual(["10.0.0.1:1"]);
    now = 999;
    expect(await resolve()).toEqual(["10.0.0.1:1"]);
    expect(lookup.calls).toHaveLength(1);
    now = 1000; // a pod scaled up
    expect(await resolve()).toEqual(["10.0.0.1:1", "10.0.0.2:1"]);
    now = 2000; // one vanished
    expect(await resolve()).toEqual(["10.0.0.2:1"]);
    expect(lookup.calls).toHaveLength(3);
  });

  it("keeps the last answer when a lookup fails, and says so; an empty answer empties the list", async () => {
    let now = 0;
    const lines: string[] = [];
    const lookup = scripted({ shards: [["10.0.0.1"], Object.assign(new Error("timeout"), { code: "EAI_AGAIN" }), []] });
    const resolve = shardResolver(["dns:shards:1"], { resolveIntervalMs: 10, lookup, log: createLogger("t", (l) => lines.push(l)), now: () => now });
    expect(await resolve()).toEqual(["10.0.0.1:1"]);
    now = 10;
    expect(await resolve()).toEqual(["10.0.0.1:1"]);
    expect(lines.at(-1)).toMatch(/warn .*cannot resolve dns:shards:1; keeping the last answer/);
    now = 20;
    expect(await resolve()).toEqual([]);
    expect(lines.at(-1)).toMatch(/warn .*dns:shards:1 resolves to no address/);
  });

  it("formats host:port for either address family", () => {
    expect(joinHostPort("10.0.0.1", 5)).toBe("10.0.0.1:5");
    expect(joinHostPort("::1", 5)).toBe("[::1]:5");
  });
});

describe("lookups", () => {
  it("the system resolver finds localhost, and a name that does not exist is an empty answer", async () => {
    expect(await systemLookup("localhost")).toContain("127.0.0.1");
    // .invalid never exists (RFC 6761); without any reachable DNS server getaddrinfo says EAI_AGAIN instead.
    const missing = await systemLookup("no-such-shard.invalid").catch((err: { code?: string }) => err.code);
    expect([[], "EAI_AGAIN"]).toContainEqual(missing);
  });

  it("the hosts file: every line naming the host, aliases, comments, case and a trailing dot", async () => {
    const path = join(await tempDir(), "hosts");
    await writeFile(path, "# the headless Service\n127.0.0.2 shards shards.ns.svc.cluster.local\n127.0.0.3   Shards # second pod\n127.0.0.4 other\n\n");
    const lookup = hostsFileLookup(path);
    expect(await lookup("shards")).toEqual(["127.0.0.2", "127.0.0.3"]);
    expect(await lookup("shards.ns.svc.cluster.local.")).toEqual(["127.0.0.2"]);
    expect(await lookup("missing")).toEqual([]);
    await writeFile(path, "127.0.0.9 shards\n");
    expect(await lookup("shards")).toEqual(["127.0.0.9"]); // read afresh every time
  });
});
