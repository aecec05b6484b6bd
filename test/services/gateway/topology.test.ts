/**
 * The topology through a rolling update of the head (pure: no sockets). Pods
 * are replaced one at a time, highest ordinal first, as a StatefulSet rolls;
 * the gateway keeps serving the old head while it covers [0, V), switches
 * once the new one does, and refuses (409) only while neither does.
 */
import { describe, expect, it } from "vitest";
import type { ShardInfo } from "../../../services/gateway/shard-client.js";
import { type AddressState, buildTopology } from "../../../services/gateway/topology.js";

const V = 10;
const RANGES = [
  [0, 5],
  [5, 10],
] as const;

function info(fingerprint: string, range: number): ShardInfo {
  const [rangeStart, rangeEnd] = RANGES[range]!;
  return { rangeStart, rangeEnd, vocabSize: V, dim: 4, fingerprint, dtype: "F32", hasBias: false, source: "test", maxRows: 64 };
}

/** Pod i serves range i mod 2; `heads[i]` is the head pod i serves now, null when it is down. */
function pods(heads: (string | null)[], remembered: string[] = heads.map((h) => h ?? "old")): AddressState[] {
  return heads.map((head, i) => ({
    address: `10.0.0.${i}:50051`,
    info: info(head ?? remembered[i]!, i % 2),
    healthy: head !== null,
    error: head === null ? "connection refused" : null,
  }));
}

const served = (states: AddressState[], preferred: string | null = null) => {
  const t = buildTopology(states, { preferred });
  return t.ready ? t.model.fingerprint : `${t.code}: ${t.reason}`;
};

describe("a rolling update with two replicas per range", () => {
  it("stays on the old head while it covers [0, V), then switches once, never mixing", () => {
    expect(served(pods(["old", "old", "old", "old"]), "old")).toBe("old");
    expect(served(pods(["old", "old", "old", "new"]), "old")).toBe("old");
    expect(served(pods(["old", "old", "new", "new"]), "old")).toBe("old"); // both cover: keep serving what clients have seen
    expect(served(pods(["old", "new", "new", "new"]), "old")).toBe("new"); // old lost range 1
    expect(served(pods(["new", "new", "new", "new"]), "new")).toBe("new");
  });

  it("a pod down mid-roll (terminating, not yet replaced) is just not a replica", () => {
    expect(served(pods(["old", "old", "old", null]), "old")).toBe("old");
    expect(served(pods(["old", null, "new", "new"], ["old", "old", "new", "new"]), "old")).toBe("new");
  });

  it("serves only the chosen head's replicas", () => {
    const t = buildTopology(pods(["old", "old", "new", "new"]), { preferred: "old" });
    expect(t.ready && t.healthy).toEqual([["10.0.0.0:50051"], ["10.0.0.1:50051"]]);
  });

  it("without a head served before (a gateway started mid-roll), the one on more shards, then by fingerprint", () => {
    expect(served(pods(["a", "a", "b", "b"]))).toBe("a");
    expect(served([...pods(["a", "a", "b", "b"]), { address: "10.0.0.9:50051", info: info("b", 0), healthy: true, error: null }])).toBe("b");
  });

  it("a head whose shards are all unreachable is a stale memory, not a contender", () => {
    expect(served(pods([null, null, "new", "new"], ["old", "old", "new", "new"]), "old")).toBe("new");
  });
});

describe("a rolling update with one replica per range", () => {
  it("refuses (409) while no head covers [0, V), naming each head and what it lacks", () => {
    const t = buildTopology(pods(["old", "new"]), { preferred: "old" });
    expect(t.ready).toBe(false);
    expect(!t.ready && t.code).toBe("MODEL_MISMATCH");
    const reason = t.ready ? "" : t.reason;
    expect(reason).toMatch(/disagree on the head.*old \(V=10, d=4\) on 1 shard: .*\[5, 10\).*new \(V=10, d=4\) on 1 shard: .*\[0, 5\)/);
  });
});

describe("gaps", () => {
  const lone = pods(["h"]); // only range [0, 5) answers

  it("with a fixed address list, ranges that leave a gap are misconfigured (409)", () => {
    const t = buildTopology(lone);
    expect(!t.ready && [t.code, t.reason]).toEqual(["MODEL_MISMATCH", "shard ranges do not tile the vocabulary: gap: no shard serves [5, 10)"]);
  });

  it("with DNS discovery (every ready pod), a gap is a range whose pods are all down (503 naming it)", () => {
    const t = buildTopology(lone, { gapsAreMissingShards: true });
    expect(!t.ready && t.code).toBe("UNAVAILABLE");
    expect(!t.ready && t.reason).toMatch(/no shard serves \[5, 10\)/);
  });

  it("an overlap is misconfigured either way (409)", () => {
    const overlapping: AddressState[] = [...pods(["h", "h"]), { address: "x:1", info: { ...info("h", 0), rangeEnd: 7 }, healthy: true, error: null }];
    const t = buildTopology(overlapping, { gapsAreMissingShards: true });
    expect(!t.ready && t.code).toBe("MODEL_MISMATCH");
  });
});
