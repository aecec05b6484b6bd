/**
 * A query against the topology of the moment, run once more if it failed for
 * want of replicas while the topology changed under it. The fan-out only
 * tries the replicas of the topology the query started with; when the last of
 * them for a range fails, marking it failed rebuilds the topology, and the
 * rebuilt one may serve again: other replicas answered their Info meanwhile,
 * or, mid-way through a rolling update, the new head now covers [0, V) while
 * the old head's last pod of a range has just stopped. The second run uses
 * the rebuilt topology whole (one head, its own replicas), never a mix.
 */

import type { Labels } from "../../shared/checkpoint/labels.js";
import { ShardmaxError } from "../../shared/errors.js";
import type { FanOut } from "./fanout.js";
import { type Answer, type Query, type QueryLimits, runQuery } from "./query.js";
import type { Topology } from "./topology.js";

export async function runOnCurrentTopology(
  query: Query,
  current: () => Topology,
  fanOut: Pick<FanOut, "partials" | "stats">,
  limits: QueryLimits,
  deadline: Date,
  labels: Labels | null = null,
): Promise<Answer> {
  const first = current();
  try {
    return await runQuery(query, first, fanOut, limits, deadline, labels);
  } catch (err) {
    const error = ShardmaxError.from(err);
    const now = current();
    if (error.code !== "UNAVAILABLE" || !first.ready || now === first || !now.ready || Date.now() >= deadline.getTime()) throw error;
    fanOut.stats.reruns++;
    return runQuery(query, now, fanOut, limits, deadline, labels);
  }
}
