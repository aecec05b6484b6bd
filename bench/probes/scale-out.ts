/**
 * Scale-out simulation: one gateway process in front of N = 1 … 64 ranges of
 * a tiny head (builtin:4096x64, so a 64-range slice is 64 classes and compute
 * is ~0), all N shards in one shard-host process (64 shard processes would
 * not fit 2 cores; each is still a real gRPC server and batcher). Per N: the
 * gateway's CPU per query (utime + stime from /proc, over the measured
 * queries) and p50/p99, sequentially (1 caller: every query its own fan-out)
 * and at 8 callers (the coalescer shares fan-outs); the rate one gateway
 * core sustains is 1000 / (CPU ms per query).
 *
 *   node dist/bench/probes/scale-out.js [--ranges 1,2,4,8,16,32,64] [--queries 400] [--transport stream|unary]
 */
import { parseArgs } from "node:util";
import { startGatewayChild, startShardHost, untilAnswers } from "./cluster.js";
import { cpuMsOf, randomRows, sdkAsker, timeCalls } from "./latency-drivers.js";

const { values } = parseArgs({
  options: {
    ranges: { type: "string", default: "1,2,4,8,16,32,64" },
    queries: { type: "string", default: "400" },
    weights: { type: "string", default: "builtin:4096x64" },
    transport: { type: "string", default: "stream" },
  },
});
const D = Number(/x(\d+)$/.exec(values.weights!)?.[1]);
const measured = Number(values.queries);
const rows = randomRows(64, D);
for (const n of values.ranges!.split(",").map(Number)) {
  const shards = await startShardHost(values.weights!, n);
  const gateway = await startGatewayChild(shards.addresses, ["--shard-transport", values.transport!]);
  const sdk = sdkAsker(gateway.grpc, rows, 10);
  await untilAnswers(sdk.ask);
  for (const callers of [1, 8]) {
    const per = Math.ceil(measured / callers);
    await timeCalls(sdk.ask, { warmup: 50, measured: 0, callers });
    const cpuBefore = await cpuMsOf(gateway.child.pid);
    const timing = await timeCalls(sdk.ask, { warmup: 0, measured: per, callers });
    const cpuMsPerQuery = ((await cpuMsOf(gateway.child.pid)) - cpuBefore) / timing.count;
    console.log(
      JSON.stringify({
        ranges: n,
        callers,
        p50Ms: +timing.p50Ms.toFixed(2),
        p99Ms: +timing.p99Ms.toFixed(2),
        queriesPerS: +timing.perS.toFixed(0),
        gatewayCpuMsPerQuery: +cpuMsPerQuery.toFixed(3),
        queriesPerGatewayCoreS: +(1000 / cpuMsPerQuery).toFixed(0),
        errors: timing.errors,
      }),
    );
  }
  sdk.close();
  await gateway.child.stop();
  await shards.child.stop();
}
process.exit(0);
