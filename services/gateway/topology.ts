/**
 * From what each shard address last said (its Info, or why it is unreachable)
 * to the serving topology: one model, a RangeMap that tiles [0, V), and the
 * healthy replicas of every range — or the reason the gateway must not serve.
 * Pure, so every failure mode is tested without sockets.
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

export interface ModelRef {
  fingerprint: string;
  vocabSize: number;
  dim: number;
}

export interface RangeView {
  range: ClassRange;
  replicas: { address: string; healthy: boolean; error: string | null }[];
}

export type Topology =
  | { ready: true; model: ModelRef; info: ShardInfo; map: RangeMap; ranges: RangeView[]; healthy: string[][] }
  | { ready: false; code: ErrorCode; reason: string; model: ModelRef | null; ranges: RangeView[] };

const sameModel = (a: ShardInfo, b: ShardInfo) => a.fingerprint === b.fingerprint && a.vocabSize === b.vocabSize && a.dim === b.dim;
const describe = (s: AddressState) => `${s.address} serves ${s.info!.fingerprint} (V=${s.info!.vocabSize}, d=${s.info!.dim})`;

export function buildTopology(states: readonly AddressState[]): Topology {
  const known = states.filter((s) => s.info !== null);
  const healthy = known.filter((s) => s.healthy);
  const unseen = states.filter((s) => s.info === null);
  if (known.length === 0) {
    const why = states.map((s) => `${s.address}: ${s.error ?? "not yet asked"}`).join("; ");
    return { ready: false, code: "NOT_READY", reason: `no shard has answered yet (${why || "no shard addresses"})`, model: null, ranges: [] };
  }
  const reference = (healthy[0] ?? known[0]!).info!;
  const disagreeing = healthy.find((s) => !sameModel(s.info!, reference));
  if (disagreeing) {
    const reason = `shards disagree on the head: ${describe(healthy[0]!)}, ${describe(disagreeing)}`;
    return { ready: false, code: "MODEL_MISMATCH", reason, model: null, ranges: [] };
  }
  const model = { fingerprint: reference.fingerprint, vocabSize: reference.vocabSize, dim: reference.dim };
  // A stale entry for another head (an address that has since changed) is not a replica of this one.
  const members = known.filter((s) => sameModel(s.info!, reference));
  const ranges = groupByRange(members);
  const problem = tilingProblem(model.vocabSize, ranges.map((r) => r.range));
  if (problem) {
    if (problem.kind === "gap" && unseen.length > 0) {
      const why = unseen.map((s) => `${s.address}: ${s.error ?? "not yet asked"}`).join("; ");
      return { ready: false, code: "UNAVAILABLE", reason: `${problem.reason} (unreachable: ${why})`, model, ranges };
    }
    return { ready: false, code: "MODEL_MISMATCH", reason: `shard ranges do not tile the vocabulary: ${problem.reason}`, model, ranges };
  }
  const down = ranges.find((r) => !r.replicas.some((x) => x.healthy));
  if (down) {
    const why = down.replicas.map((x) => `${x.address}: ${x.error ?? "unhealthy"}`).join("; ");
    return { ready: false, code: "UNAVAILABLE", reason: `range ${down.range} has no healthy shard (${why})`, model, ranges };
  }
  return {
    ready: true,
    model,
    info: reference,
    map: RangeMap.tile(model.vocabSize, ranges.map((r) => r.range)),
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
