/**
 * Baseline B's shard: the same class range and the same dynamic batcher as a
 * shardmax shard, but it answers with every logit of its range for every row.
 *
 *   node dist/bench/gather/shard.js --weights builtin:VxD --shard I/N --threads N
 *        [--max-batch-rows N] [--max-queue-delay-us N] [--listen HOST:PORT]
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import ort from "onnxruntime-node";
import { autoMaxBatchRows, Batcher, type BatchKind } from "../../services/shard/batcher.js";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { invalidField } from "../../shared/errors.js";
import { toServiceError } from "../../shared/grpc/errors.js";
import { DEFAULT_MAX_MESSAGE_BYTES, messageLimits } from "../../shared/grpc/proto.js";
import { bindInsecure } from "../../shared/grpc/server-lifecycle.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { cpuSessionOptions } from "../../shared/onnx/session-options.js";
import { splitRange } from "../../shared/ranges.js";
import { toBytes } from "../../shared/tensor-bytes.js";
import { emit, untilStopped } from "../child-process.js";
import { gatherShardService, type LogitsRequest } from "./gather-proto.js";
import { shardLogitsGraph } from "./graphs.js";

const { values } = parseArgs({
  options: {
    weights: { type: "string" },
    shard: { type: "string" },
    threads: { type: "string", default: "0" },
    listen: { type: "string", default: "127.0.0.1:0" },
    "max-batch-rows": { type: "string", default: "auto" },
    "max-queue-delay-us": { type: "string", default: "0" },
  },
});
const head = await openHead(values.weights!);
const { vocabSize, dim } = head.description;
const [index, count] = values.shard!.split("/").map(Number) as [number, number];
const range = splitRange(vocabSize, index, count);
const slice = await head.readRows(range);
const session = await ort.InferenceSession.create(shardLogitsGraph(range.size, dim, slice.weight, slice.bias), cpuSessionOptions(Number(values.threads)));

interface Logits {
  rows: number;
  logits: Float32Array;
}

const width = range.size;
const maxBatchRows = values["max-batch-rows"] === "auto" ? autoMaxBatchRows(range.size) : Number(values["max-batch-rows"]);
const logitsBatches: BatchKind<Logits> = {
  async run(batch) {
    const out = await session.run({ hidden: new ort.Tensor("float32", batch.hidden, [batch.rows, dim]) });
    return { rows: batch.rows, logits: out.logits!.data as Float32Array };
  },
  slice: (result, slot) => ({ rows: slot.rows, logits: result.logits.subarray(slot.row * width, (slot.row + slot.rows) * width) }),
  join(parts) {
    const logits = new Float32Array(parts.reduce((n, p) => n + p.logits.length, 0));
    let at = 0;
    for (const p of parts) {
      logits.set(p.logits, at);
      at += p.logits.length;
    }
    return { rows: parts.reduce((n, p) => n + p.rows, 0), logits };
  },
};
const batcher = new Batcher(logitsBatches, {
  dim,
  maxBatchRows,
  maxQueueDelayUs: Number(values["max-queue-delay-us"]),
  maxQueueRows: 1 << 20,
});

async function logits(request: LogitsRequest): Promise<object> {
  if (request.dim !== dim) throw invalidField("dim", `is ${request.dim}, this head has d=${dim}`);
  if (request.rows < 1 || request.hidden.byteLength !== request.rows * dim * 4) throw invalidField("hidden", "must hold rows×dim float32");
  const call = {
    rows: request.rows,
    hidden: request.hidden,
    topK: 0,
    options: defaultOptions(),
    targetCounts: new Uint32Array(request.rows),
    targetIds: new Uint8Array(0),
  };
  const result = await batcher.run(call);
  return { rows: result.rows, rangeStart: range.start, rangeEnd: range.end, logits: toBytes(result.logits) };
}

// The same warm-up as a shardmax shard: one full-size run, so the arena has grown before traffic.
await session.run({ hidden: new ort.Tensor("float32", new Float32Array(maxBatchRows * dim), [maxBatchRows, dim]) });

const server = new grpc.Server(messageLimits(DEFAULT_MAX_MESSAGE_BYTES));
server.addService(gatherShardService().service, {
  logits: (call: grpc.ServerUnaryCall<LogitsRequest, object>, callback: grpc.sendUnaryData<object>) => {
    logits(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toServiceError(err)),
    );
  },
});
const port = await bindInsecure(server, values.listen!);
emit({ event: "listening", port, rangeStart: range.start, rangeEnd: range.end });
emit({ event: "ready" });
await untilStopped();
const stats = batcher.stats;
process.stderr.write(`gather shard ${range}: runs=${stats.runs} calls=${stats.calls} rows=${stats.rows}\n`);
server.forceShutdown();
await session.release();
process.exit(0);
