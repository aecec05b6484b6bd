/**
 * A real shard (runShard, in this process) whose event-loop delay is sampled
 * (perf_hooks.monitorEventLoopDelay) while the bench floods it, with
 * onnxruntime on a worker thread (what shardmax ships) or on the main thread
 * (to measure what the worker buys). Commands on stdin, one per line:
 * `reset` starts a sample, `report` emits {event:"loop", …} in ms.
 *
 *   node dist/bench/probes/event-loop.js --weights builtin:VxD --shard I/N --threads N --inference worker|main
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { SHARD_BATCH_DEFAULTS } from "../../services/cli/shard-command.js";
import { runShard } from "../../services/shard/main.js";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../shared/grpc/proto.js";
import { silentLogger } from "../../shared/log.js";
import { emit } from "../child-process.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string" },
    shard: { type: "string", default: "0/1" },
    threads: { type: "string", default: "0" },
    inference: { type: "string", default: "worker" },
  },
});
const [index, count] = values.shard!.split("/").map(Number) as [number, number];
const shard = await runShard(
  {
    weights: values.weights!,
    range: { kind: "split", index, count },
    listen: "127.0.0.1:0",
    threads: Number(values.threads),
    maxRows: 4096,
    maxTopK: 1000,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    drainMs: 1000,
    ...SHARD_BATCH_DEFAULTS,
    inferenceThread: values.inference === "main" ? "main" : "worker",
  },
  silentLogger,
);
emit({ event: "listening", port: shard.port });
await shard.ready;
emit({ event: "ready" });

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const ms = (ns: number) => ns / 1e6;
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "reset") delay.reset();
  if (line === "report") {
    emit({ event: "loop", p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max), meanMs: ms(delay.mean), ...shard.stats() });
  }
});
await new Promise<void>((resolve) => lines.once("close", () => resolve()));
await shard.stop();
process.exit(0);
