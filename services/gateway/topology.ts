/**
 * From what each shard address last said (its Info, or why it is unreachable)
 * to the serving topology: one model, a RangeMap that tiles [0, V), and the
 * healthy replicas of every range — or the reason the gateway must not serve.
 * Pure, so every failure mode is tested without sockets.
 *
 * Several heads at once is the normal state of a rolling update. Partials of
 * different heads are never merged; instead one head is served: the one
 * served until now for as long as it still covers [0, V) with a healthy
 * replica per range, else a head that does. Only when no head covers the
 * vocabulary on its own is the answer MODEL_MISMATCH.
 */
import type { ErrorCode } from "../../shared/errors.js";
import { ClassRange, RangeMap, tilingProblem } from "../../shared/ranges.js";
import type { ShardInfo } from "./shard-client.js";

export interface AddressState {
  address: string;
  /** Last Info this address answered, even if it has failed since. */
  info: ShardInfo | null;
  healthy: boolean;
  error: string | null;
}

import type { ModelRef } from "../../shared/results.js";

export type { ModelRef };

export interface RangeView {
  range: ClassRange;
  replicas: { address: string; healthy: boolean; error: string | null }[];
}

export type Topology =
  | { ready: true; model: ModelRef; info: ShardInfo; map: RangeMap; ranges: RangeView[]; healthy: string[][] }
  | { ready: false; code: ErrorCode; reason: string; model: ModelRef | null; ranges: RangeView[] };

export interface TopologyOptions {
  /** Fingerprint of the head served until now; kept while it covers [0, V), so a roll switches heads once. */
  preferred?: string | null;
  /**
   * The address list is "every ready pod" (DNS discovery), so a gap means a
   * range whose shards are down (503), not ranges configured wrongly (409).
   */
  gapsAreMissingShards?: boolean;
  /** Whether reasons may name shard addresses and their socket errors (--expose-topology); default yes. */
  exposeTopology?: boolean;
}

const headKey = (i: ShardInfo) => `${i.fingerprint}|${i.vocabSize}|${i.dim}`;
const describeHead = (i: ShardInfo) => `${i.fingerprint} (V=${i.vocabSize}, d=${i.dim})`;
/** Why an address is down: for operators its address and error; for everyone else only that it is. */
const whyDown = (s: { address: string; error: string | null }, options: TopologyOptions) =>
  options.exposeTopology === false ? (s.error === null ? "a shard not yet asked" : "a shard not answering") : `${s.address}: ${s.error ?? "not yet asked"}`;

export function buildTopology(states: readonly AddressState[], options: TopologyOptions = {}): Topology {
  const known = states.filter((s) => s.info !== null);
  const unseen = states.filter((s) => s.info === null);
  if (known.length === 0) {
    const why = states.map((s) => whyDown(s, options)).join("; ");
    return { ready: false, code: "NOT_READY", reason: `no shard has answered yet (${why || "no shard addresses"})`, model: null, ranges: [] };
  }
  const heads = new Map<string, AddressState[]>();
  for (const s of known) heads.set(headKey(s.info!), [...(heads.get(headKey(s.info!)) ?? []), s]);
  const candidates = [...heads.values()].map((members) => ({
    info: (members.find((s) => s.healthy) ?? members[0]!).info!,
    healthy: members.filter((s) => s.healthy).length,
    topology: headTopology(members, unseen, options),
  }));
  // A head no healthy address serves any more is a stale memory, not a contender.
  const live = candidates.filter((c) => c.healthy > 0);
  if (live.length <= 1) {
    return (live[0] ?? candidates.find((c) => c.info.fingerprint === options.preferred) ?? candidates[0]!).topology;
  }
  const complete = live.filter((c) => c.topology.ready);
  if (complete.length > 0) {
    const chosen =
      complete.find((c) => c.info.fingerprint === options.preferred) ??
      [...complete].sort((a, b) => b.healthy - a.healthy || a.info.fingerprint.localeCompare(b.info.fingerprint))[0]!;
    return chosen.topology;
  }
  const each = live.map(
    (c) => `${describeHead(c.info)} on ${c.healthy} shard${c.healthy === 1 ? "" : "s"}: ${c.topology.ready ? "complete" : c.topology.reason}`,
  );
  const reason = `shards disagree on the head and no head covers [0, V) on its own (mid-way through a rolling update?): ${each.join("; ")}`;
  return { ready: false, code: "MODEL_MISMATCH", reason, model: null, ranges: [] };
}

/** The topology if only the addresses serving this one head counted. */
function headTopology(members: readonly AddressState[], unseen: readonly AddressState[], options: TopologyOptions): Topology {
  const reference = (members.find((s) => s.healthy) ?? members[0]!).info!;
  const model = { fingerprint: reference.fingerprint, vocabSize: reference.vocabSize, dim: reference.dim };
  const ranges = groupByRange(members);
  const problem = tilingProblem(
    model.vocabSize,
    ranges.map((r) => r.range),
  );
  if (problem) {
    if (problem.kind === "gap" && (unseen.length > 0 || options.gapsAreMissingShards)) {
      const why = unseen.length > 0 ? ` (unreachable: ${unseen.map((s) => whyDown(s, options)).join("; ")})` : " (no ready shard of this range is discovered)";
      return { ready: false, code: "UNAVAILABLE", reason: `${problem.reason}${why}`, model, ranges };
    }
    return { ready: false, code: "MODEL_MISMATCH", reason: `shard ranges do not tile the vocabulary: ${problem.reason}`, model, ranges };
  }
  const down = ranges.find((r) => !r.replicas.some((x) => x.healthy));
  if (down) {
    const why = down.replicas.map((x) => whyDown({ address: x.address, error: x.error ?? "unhealthy" }, options)).join("; ");
    return { ready: false, code: "UNAVAILABLE", reason: `range ${down.range} has no healthy shard (${why})`, model, ranges };
  }
  return {
    ready: true,
    model,
    info: reference,
    map: RangeMap.tile(
      model.vocabSize,
      ranges.map((r) => r.range),
    ),
    ranges,
    healthy: ranges.map((r) => r.replicas.filter((x) => x.healthy).map((x) => x.address)),
  };
}

function groupByRange(states: readonly AddressState[]): RangeView[] {
  const byKey = new Map<string, RangeView>();
  for (const s of states) {
    const range = ClassRange.of(s.info!.rangeStart, s.info!.rangeEnd);
    const key = `${range}`;
    if (!byKey.has(key)) byKey.set(key, { range, replicas: [] });
    byKey.get(key)!.replicas.push({ address: s.address, healthy: s.healthy, error: s.error });
  }
  return [...byKey.values()].sort((a, b) => a.range.start - b.range.start);
}
