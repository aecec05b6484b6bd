/**
 * Where the time of one small query goes: a tiny head (compute ~0), batch 1,
 * one caller, sequential queries, each layer timed on its own so the
 * difference between two rows is what the outer layer adds:
 *
 *   Partial, unary / stream, to a shard computing on the main thread / on its inference worker
 *   fan-out to every range (FanOut, in this process)
 *   GatewayCore.query: admission, validation, coalescer, fan-out, merge, answer
 *   fastify inject: + JSON parse, schema, serialization (no socket)
 *   REST and SDK through a gateway process (--shard-transport unary / stream)
 *
 *   node dist/bench/probes/fixed-cost.js [--weights builtin:4096x64] [--queries 400]
 *
 * Prints one JSON line per row.
 */
import { parseArgs } from "node:util";
import { GATEWAY_DEFAULTS, gatewayConfig } from "../../services/cli/gateway-command.js";
import { buildApp } from "../../services/gateway/app.js";
import { FanOut } from "../../services/gateway/fanout.js";
import { runGateway } from "../../services/gateway/main.js";
import { ShardClient, type ShardTransport } from "../../services/gateway/shard-client.js";
import { ShardSet } from "../../services/gateway/shard-set.js";
import { silentLogger } from "../../shared/log.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { startGatewayChild, startShardHost, startShardProcess } from "./cluster.js";
import { randomRows, restAsker, sdkAsker, type Timing, timeCalls } from "./latency-drivers.js";

const { values } = parseArgs({ options: { weights: { type: "string", default: "builtin:4096x64" }, queries: { type: "string", default: "400" } } });
const weights = values.weights!;
const D = Number(/x(\d+)$/.exec(weights)?.[1]);
const measured = Number(values.queries);
const warmup = Math.max(50, measured >> 2);
const TOP_K = 10;
const rows = randomRows(64, D);

function report(layer: string, timing: Timing): void {
  console.log(JSON.stringify({ layer, p50Ms: +timing.p50Ms.toFixed(3), p99Ms: +timing.p99Ms.toFixed(3), count: timing.count, errors: timing.errors }));
}

const partialCall = (i: number) => ({
  rows: 1,
  dim: D,
  hidden: Float32Array.from(rows[i % rows.length]!),
  topK: TOP_K,
  options: defaultOptions(),
  targetCounts: new Uint32Array(1),
  targetIds: new Uint32Array(0),
  fingerprint: "",
});

// 1. One Partial to one shard: the gRPC hop and the shard's own path (queue, worker hop, onnxruntime).
for (const thread of ["main", "worker"] as const) {
  const { child, addresses } = await startShardHost(weights, 1, 1, thread);
  for (const transport of ["unary", "stream"] as const) {
    const client = new ShardClient(addresses[0]!, 1 << 24, undefined, transport);
    const { fingerprint } = await client.info(5000);
    const ask = (i: number) => client.partial({ ...partialCall(i), fingerprint }, new Date(Date.now() + 10_000));
    report(`Partial to 1 shard (${thread} thread), ${transport}`, await timeCalls(ask, { warmup, measured }));
    client.close();
  }
  await child.stop();
}

// 2. The gateway's layers, in this process, against 2 shard processes on their inference workers (the default).
const V = Number(/builtin:(\d+)x/.exec(weights)?.[1]);
const shardChildren = await Promise.all([startShardProcess(weights, 0, V >> 1), startShardProcess(weights, V >> 1, V)]);
const addresses = shardChildren.map((s) => s.address);
for (const transport of ["unary", "stream"] as ShardTransport[]) {
  const set = new ShardSet({
    resolve: async () => addresses,
    refreshMs: 60_000,
    infoDeadlineMs: 5000,
    maxMessageBytes: 1 << 24,
    log: silentLogger,
    shardTransport: transport,
  });
  await set.start();
  const topology = set.topology;
  if (!topology.ready) throw new Error(topology.reason);
  const fanOut = new FanOut(set);
  const routed = [0, 1].map(() => ({ counts: new Uint32Array(1), ids: new Uint32Array(0) }));
  const fingerprint = topology.model.fingerprint;
  report(
    `fan-out to 2 ranges (in process), ${transport}`,
    await timeCalls((i) => fanOut.partials(topology, { ...partialCall(i), fingerprint }, routed, new Date(Date.now() + 10_000)), { warmup, measured }),
  );
  set.close();

  const config = gatewayConfig({
    ...GATEWAY_DEFAULTS,
    exposeTopology: true,
    shards: addresses,
    http: "127.0.0.1:0",
    grpc: "127.0.0.1:0",
    drainMs: 100,
    shardTransport: transport,
  });
  const gateway = await runGateway(config, silentLogger);
  const query = (i: number) => ({ rows: 1, dim: D, hidden: Float32Array.from(rows[i % rows.length]!), topK: TOP_K, targets: [], temperature: 1 });
  report(`GatewayCore.query (in process), ${transport}`, await timeCalls((i) => gateway.core.query(query(i)), { warmup, measured }));
  const app = buildApp({ core: gateway.core, bodyLimitBytes: 1 << 20, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, log: silentLogger });
  const bodies = rows.map((row) => JSON.stringify({ hidden: [row], topK: TOP_K }));
  report(
    `REST /v1/softmax via fastify inject (in process, no socket), ${transport}`,
    await timeCalls(
      async (i) => {
        const res = await app.inject({
          method: "POST",
          url: "/v1/softmax",
          headers: { "content-type": "application/json" },
          payload: bodies[i % bodies.length]!,
        });
        if (res.statusCode !== 200) throw new Error(res.body);
      },
      { warmup, measured },
    ),
  );
  await app.close();
  await gateway.stop();
}

// 3. What a user sees: a gateway process, REST and SDK.
for (const transport of ["unary", "stream"] as const) {
  const ports = await startGatewayChild(addresses, ["--shard-transport", transport]);
  const gateway = ports.child;
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const [door, asker] of [
    ["SDK", sdkAsker(ports.grpc, rows, TOP_K)],
    ["REST", restAsker(ports.http, rows, TOP_K)],
  ] as const) {
    report(`${door} through a gateway process, ${transport}`, await timeCalls(asker.ask, { warmup, measured }));
    asker.close();
  }
  await gateway.stop();
}
for (const s of shardChildren) await s.child.stop();
process.exit(0);
