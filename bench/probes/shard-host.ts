/**
 * Many shards in one process, for probes that need more shards than this
 * 2-core machine can run as processes (the scale-out simulation runs up to 64
 * ranges): each is a real `runShard` (its own gRPC server on port 0, batcher
 * and onnxruntime session), only sharing the process. With tiny slices the
 * compute is ~0, so what the gateway sees per range is a real gRPC peer's
 * latency; what one process of 64 shards cannot show is 64 machines' spread.
 *
 *   node dist/bench/probes/shard-host.js --weights builtin:4096x64 --shards N [--replicas R] [--inference-thread worker|main]
 *
 * Emits `{"event":"listening","ports":[…]}` (range i's replicas are ports
 * i·R … i·R + R − 1) and `{"event":"ready"}`; serves until stdin closes.
 */
import { parseArgs } from "node:util";
import { runShard } from "../../services/shard/main.js";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../../shared/grpc/proto.js";
import { silentLogger } from "../../shared/log.js";
import { emit, untilStopped } from "../child-process.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string", default: "builtin:4096x64" },
    shards: { type: "string", default: "2" },
    replicas: { type: "string", default: "1" },
    "inference-thread": { type: "string", default: "main" },
  },
});
const count = Number(values.shards);
const replicas = Number(values.replicas);
const inferenceThread = values["inference-thread"] === "worker" ? "worker" : "main";
const shards = await Promise.all(
  Array.from({ length: count * replicas }, (_, i) =>
    runShard(
      {
        weights: values.weights!,
        range: { kind: "split", index: Math.floor(i / replicas), count },
        listen: "127.0.0.1:0",
        threads: 1,
        maxRows: 1024,
        maxTopK: 1000,
        maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
        drainMs: 100,
        maxBatchRows: "auto",
        maxQueueDelayUs: 0,
        maxQueueRows: 1 << 16,
        inferenceThread,
      },
      silentLogger,
    ),
  ),
);
emit({ event: "listening", ports: shards.map((s) => s.port) });
await Promise.all(shards.map((s) => s.ready));
emit({ event: "ready" });
await untilStopped();
await Promise.all(shards.map((s) => s.stop()));
process.exit(0);
