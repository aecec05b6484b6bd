/**
 * One Partial per class range, all in parallel, under the query's deadline.
 * Each range goes to one healthy replica (round-robin); a replica that cannot
 * answer is marked failed and the next one is tried while time is left. The
 * query fails, naming the range, only when no replica of a range answered:
 * a merge over a subset of ranges is never attempted.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { RoutedTargets } from "../../shared/math/targets.js";
import type { PartialCall, ShardClient } from "./shard-client.js";
import type { Topology } from "./topology.js";

type ReadyTopology = Extract<Topology, { ready: true }>;

export interface ReplicaPool {
  client(address: string): ShardClient;
  markFailed(address: string, error: ShardmaxError): void;
}

/** Errors after which another replica may succeed; anything else is the query's own fault. */
const RETRYABLE = new Set(["UNAVAILABLE", "NOT_READY", "DEADLINE_EXCEEDED", "INTERNAL"]);

export class FanOut {
  private readonly cursor = new Map<string, number>();

  constructor(private readonly pool: ReplicaPool) {}

  async partials(
    topology: ReadyTopology,
    call: Omit<PartialCall, "targetCounts" | "targetIds">,
    routed: readonly RoutedTargets[],
    deadline: Date,
  ): Promise<BatchPartial[]> {
    return Promise.all(
      topology.map.ranges.map((range, r) =>
        this.askRange(`${range}`, topology.healthy[r]!, { ...call, targetCounts: routed[r]!.counts, targetIds: routed[r]!.ids }, deadline),
      ),
    );
  }

  private async askRange(rangeKey: string, replicas: readonly string[], call: PartialCall, deadline: Date): Promise<BatchPartial> {
    const first = this.cursor.get(rangeKey) ?? 0;
    this.cursor.set(rangeKey, first + 1);
    const failures: string[] = [];
    for (let attempt = 0; attempt < replicas.length && Date.now() < deadline.getTime(); attempt++) {
      const address = replicas[(first + attempt) % replicas.length]!;
      try {
        return await this.pool.client(address).partial(call, deadline);
      } catch (err) {
        const error = ShardmaxError.from(err);
        if (!RETRYABLE.has(error.code)) throw error;
        if (error.code !== "DEADLINE_EXCEEDED") this.pool.markFailed(address, error);
        failures.push(`${address}: ${error.message}`);
      }
    }
    if (Date.now() >= deadline.getTime()) {
      throw new ShardmaxError("DEADLINE_EXCEEDED", `range ${rangeKey} did not answer within the deadline (${failures.join("; ") || "no attempt finished"})`);
    }
    throw new ShardmaxError("UNAVAILABLE", `range ${rangeKey} has no shard that can answer (${failures.join("; ")})`);
  }
}
