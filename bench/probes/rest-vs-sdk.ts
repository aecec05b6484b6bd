/**
 * The REST door against the SDK door at many callers: the same gateway
 * process, the same 2 shards, batch-1 queries from `--callers` closed-loop
 * callers through each door in turn (alternating rounds); per door the
 * queries/s, p50 and the gateway's CPU per query (what the door costs on a
 * machine whose cores the shards need too).
 *
 *   node dist/bench/probes/rest-vs-sdk.js [--weights builtin:4096x1024] [--callers 32] [--queries 3200] [--rounds 2]
 */
import { parseArgs } from "node:util";
import { startGatewayChild, startShardHost, untilAnswers } from "./cluster.js";
import { cpuMsOf, randomRows, restAsker, sdkAsker, timeCalls } from "./latency-drivers.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string", default: "builtin:4096x1024" },
    callers: { type: "string", default: "32" },
    queries: { type: "string", default: "3200" },
    rounds: { type: "string", default: "2" },
    "gateway-flags": { type: "string", default: "" },
  },
});
const D = Number(/x(\d+)$/.exec(values.weights!)?.[1]);
const callers = Number(values.callers);
const per = Math.ceil(Number(values.queries) / callers);
const rows = randomRows(64, D);
const shards = await startShardHost(values.weights!, 2, 1, "worker");
const gateway = await startGatewayChild(shards.addresses, values["gateway-flags"] ? values["gateway-flags"].split(" ") : []);
const doors = { SDK: sdkAsker(gateway.grpc, rows, 10), REST: restAsker(gateway.http, rows, 10) };
await untilAnswers(doors.SDK.ask);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const door of (round % 2 === 0 ? ["SDK", "REST"] : ["REST", "SDK"]) as (keyof typeof doors)[]) {
    await timeCalls(doors[door].ask, { warmup: 20, measured: 0, callers });
    const before = await cpuMsOf(gateway.child.pid);
    const t = await timeCalls(doors[door].ask, { warmup: 0, measured: per, callers });
    const cpu = ((await cpuMsOf(gateway.child.pid)) - before) / t.count;
    console.log(
      JSON.stringify({
        round,
        door,
        callers,
        queriesPerS: +t.perS.toFixed(0),
        p50Ms: +t.p50Ms.toFixed(2),
        p99Ms: +t.p99Ms.toFixed(2),
        gatewayCpuMsPerQuery: +cpu.toFixed(3),
        errors: t.errors,
      }),
    );
  }
}
for (const door of Object.values(doors)) door.close();
await gateway.child.stop();
await shards.child.stop();
process.exit(0);
