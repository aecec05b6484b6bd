/**
 * A/B of two builds on the fixed cost of a query, as a user sees it: each
 * round starts, from each build's own dist/, 2 shard processes and a gateway
 * process (`shardmax shard` / `shardmax gateway`, default flags) on a tiny
 * head, and times batch-1 queries from 1 caller, sequentially, through REST
 * (/v1/softmax, keep-alive) and the SDK (gRPC Query); builds alternate
 * first/second each round (the machine drifts between minutes).
 *
 *   node dist/bench/probes/compare-doors.js --base /path/to/other/checkout [--rounds 4] [--weights builtin:4096x64] [--queries 400]
 */
import { parseArgs } from "node:util";
import { packageRoot } from "../../shared/package-root.js";
import { startGatewayChild, startShardProcess, untilAnswers } from "./cluster.js";
import { randomRows, restAsker, sdkAsker, timeCalls } from "./latency-drivers.js";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "4" },
    weights: { type: "string", default: "builtin:4096x64" },
    queries: { type: "string", default: "400" },
  },
});
if (!values.base) throw new Error("--base: the other checkout (built) to compare with");
const roots: Record<string, string> = { base: values.base, head: packageRoot() };
const [V, D] = values.weights!.replace("builtin:", "").split("x").map(Number) as [number, number];
const rows = randomRows(64, D);
const measured = Number(values.queries);
const results: { name: string; door: string; p50Ms: number }[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const name of round % 2 === 0 ? ["base", "head"] : ["head", "base"]) {
    const root = roots[name]!;
    const half = V >> 1;
    const shards = await Promise.all(
      [
        [0, half],
        [half, V],
      ].map(([start, end]) => startShardProcess(values.weights!, start!, end!, root)),
    );
    const gateway = await startGatewayChild(
      shards.map((s) => s.address),
      [],
      root,
    );
    for (const [door, asker] of [
      ["SDK", sdkAsker(gateway.grpc, rows, 10)],
      ["REST", restAsker(gateway.http, rows, 10)],
    ] as const) {
      await untilAnswers(asker.ask);
      const t = await timeCalls(asker.ask, { warmup: 100, measured });
      results.push({ name, door, p50Ms: t.p50Ms });
      console.log(JSON.stringify({ round, name, door, p50Ms: +t.p50Ms.toFixed(3), p99Ms: +t.p99Ms.toFixed(2), errors: t.errors }));
      asker.close();
    }
    await gateway.child.stop();
    for (const s of shards) await s.child.stop();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const door of ["SDK", "REST"]) {
  for (const name of ["base", "head"])
    console.log(`${door}, ${name}: median p50 ${median(results.filter((r) => r.name === name && r.door === door).map((r) => r.p50Ms)).toFixed(3)} ms`);
}
process.exit(0);
