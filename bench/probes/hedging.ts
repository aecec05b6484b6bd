/**
 * Tail latency with one replica SIGSTOPped, hedging off and on: 2 ranges × 2
 * replicas (shard processes), a gateway process with --hedge-after off / p95,
 * 8 closed-loop SDK callers. Per setting: p50/p99/max while healthy, then
 * while replica 0 of range 0 is stopped (from the moment of the SIGSTOP; the
 * gateway drops it from its topology once its Info times out), and the hedges
 * the gateway counted (its stop line).
 *
 *   node dist/bench/probes/hedging.js [--weights builtin:8192x64] [--queries 1600] [--hedge-after p95]
 */
import { parseArgs } from "node:util";
import { startGatewayChild, startShardProcess, untilAnswers } from "./cluster.js";
import { randomRows, sdkAsker, type Timing, timeCalls } from "./latency-drivers.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string", default: "builtin:8192x64" },
    queries: { type: "string", default: "1600" },
    "hedge-after": { type: "string", default: "p95" },
  },
});
const [V, D] = values.weights!.replace("builtin:", "").split("x").map(Number) as [number, number];
const CALLERS = 8;
const per = Math.ceil(Number(values.queries) / CALLERS);
const rows = randomRows(64, D);
const half = V >> 1;
const shards = await Promise.all(
  [
    [0, half],
    [0, half],
    [half, V],
    [half, V],
  ].map(([start, end]) => startShardProcess(values.weights!, start!, end!)),
);
const show = (t: Timing) => ({ p50Ms: +t.p50Ms.toFixed(2), p99Ms: +t.p99Ms.toFixed(2), maxMs: +t.maxMs.toFixed(1), queries: t.count, errors: t.errors });
for (const hedge of ["off", values["hedge-after"]!]) {
  const gateway = await startGatewayChild(
    shards.map((s) => s.address),
    ["--hedge-after", hedge],
  );
  const sdk = sdkAsker(gateway.grpc, rows, 10);
  await untilAnswers(sdk.ask);
  await timeCalls(sdk.ask, { warmup: 100, measured: 0, callers: CALLERS });
  const healthy = await timeCalls(sdk.ask, { warmup: 0, measured: per, callers: CALLERS });
  const stopped = shards[0]!.child.pid;
  process.kill(stopped, "SIGSTOP");
  const degraded = await timeCalls(sdk.ask, { warmup: 0, measured: per, callers: CALLERS }).finally(() => process.kill(stopped, "SIGCONT"));
  sdk.close();
  await gateway.child.stop();
  const hedges = /hedges=(\d+)/.exec(gateway.child.stderrTail())?.[1];
  console.log(
    JSON.stringify({
      hedgeAfter: hedge,
      healthy: show(healthy),
      oneReplicaStopped: show(degraded),
      p99Ratio: +(degraded.p99Ms / healthy.p99Ms).toFixed(2),
      hedges: Number(hedges),
    }),
  );
  // Let the stopped replica come back into a fresh gateway's topology.
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
for (const s of shards) await s.child.stop();
process.exit(0);
