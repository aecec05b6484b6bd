/**
 * Targets are routed to the shard that owns them, so each shard computes and
 * sends only its own target logits; the gateway puts them back in the order
 * asked for. Routing and reassembly walk rows and targets in the same order,
 * which is what keeps the per-shard cursors aligned.
 */
import type { RangeMap } from "../ranges.js";

/** The targets one shard owns: per-row counts and the ids, flattened. */
export interface RoutedTargets {
  counts: Uint32Array;
  ids: Uint32Array;
}

export function routeTargets(targets: readonly (readonly number[])[], rows: number, map: RangeMap): RoutedTargets[] {
  if (targets.length > rows) throw new RangeError(`targets: ${targets.length} lists for ${rows} rows`);
  const shards = map.ranges.length;
  const counts = Array.from({ length: shards }, () => new Uint32Array(rows));
  const owners: number[] = [];
  for (let row = 0; row < targets.length; row++) {
    for (const id of targets[row]!) {
      const owner = map.owner(id);
      owners.push(owner);
      counts[owner]![row]!++;
    }
  }
  const totals = counts.map((c) => c.reduce((a, b) => a + b, 0));
  const ids = totals.map((n) => new Uint32Array(n));
  const fill = new Array<number>(shards).fill(0);
  let i = 0;
  for (const rowTargets of targets) {
    for (const id of rowTargets) {
      const owner = owners[i++]!;
      ids[owner]![fill[owner]!++] = id;
    }
  }
  return counts.map((c, s) => ({ counts: c, ids: ids[s]! }));
}

/** Puts per-shard target logits back into the asked order, one array per row. */
export function gatherTargetLogits(
  targets: readonly (readonly number[])[],
  map: RangeMap,
  perShard: readonly ArrayLike<number>[],
): number[][] {
  const cursor = new Array<number>(perShard.length).fill(0);
  return targets.map((rowTargets) =>
    rowTargets.map((id) => {
      const owner = map.owner(id);
      return perShard[owner]![cursor[owner]!++]!;
    }),
  );
}
