/**
 * A query whose range ran out of replicas is run once more when the topology
 * changed meanwhile (e.g. mid-roll, the new head took over), on that topology
 * alone; otherwise its error stands.
 */
import { describe, expect, it } from "vitest";
import { FanOut, type ReplicaPool } from "../../../services/gateway/fanout.js";
import { runOnCurrentTopology } from "../../../services/gateway/query-rerun.js";
import type { ShardClient } from "../../../services/gateway/shard-client.js";
import { buildTopology, type Topology } from "../../../services/gateway/topology.js";
import { ShardmaxError } from "../../../shared/errors.js";
import type { BatchPartial } from "../../../shared/math/partial.js";
import { partialFrom } from "../../../shared/math/partial.js";

const partial: BatchPartial = partialFrom({ rows: 1, k: 0, max: Float64Array.of(0), sumExp: Float64Array.of(1) });
const query = { rows: 1, dim: 2, hidden: new Float32Array(2), topK: 0, targets: [], temperature: 1 };
const limits = { maxRows: 8, maxTopK: 8, maxTargetsPerRow: 8, maxResponseBytes: 1 << 20, maxDraws: 64 };

/** One range [0, 4) of head `fingerprint`, served by `address`. */
function topology(address: string, fingerprint: string): Topology {
  return buildTopology([
    {
      address,
      healthy: true,
      error: null,
      info: { rangeStart: 0, rangeEnd: 4, vocabSize: 4, dim: 2, fingerprint, dtype: "F32", hasBias: false, source: "", maxRows: 8 },
    },
  ]);
}

function setup(down: Set<string>, error = "UNAVAILABLE" as const) {
  let current = topology("old-pod", "old-head");
  const calls: string[] = [];
  const pool: ReplicaPool = {
    client: (address) =>
      ({
        partial: async (call: { fingerprint: string }) => {
          calls.push(`${address}/${call.fingerprint}`);
          if (down.has(address)) throw new ShardmaxError(error, `${address} is gone`);
          return partial;
        },
      }) as unknown as ShardClient,
    // As the ShardSet does: a failed replica rebuilds the topology; here the new head has taken over.
    markFailed: () => void (current = topology("new-pod", "new-head")),
  };
  return { fanOut: new FanOut(pool), current: () => current, calls };
}

describe("runOnCurrentTopology", () => {
  it("runs the query again on the rebuilt topology, whole, when a range ran out of replicas", async () => {
    const { fanOut, current, calls } = setup(new Set(["old-pod"]));
    const answer = await runOnCurrentTopology(query, current, fanOut, limits, new Date(Date.now() + 1000));
    expect(answer.model.fingerprint).toBe("new-head");
    expect(calls).toEqual(["old-pod/old-head", "new-pod/new-head"]);
    expect(fanOut.stats.reruns).toBe(1);
  });

  it("lets the error stand when the rebuilt topology cannot serve either", async () => {
    const { fanOut, current } = setup(new Set(["old-pod", "new-pod"]));
    await expect(runOnCurrentTopology(query, current, fanOut, limits, new Date(Date.now() + 1000))).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("new-pod is gone"),
    });
    expect(fanOut.stats.reruns).toBe(1); // one more run, never a loop
  });

  it("does not run again for an error that is not about replicas", async () => {
    const { fanOut, current, calls } = setup(new Set(["old-pod"]), "INVALID_ARGUMENT" as never);
    await expect(runOnCurrentTopology(query, current, fanOut, limits, new Date(Date.now() + 1000))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(calls).toHaveLength(1);
  });
});
