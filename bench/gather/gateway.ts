/**
 * Baseline B's gateway: fans each query out to every gather shard, gathers
 * all V logits of each row into one [B, V] tensor and runs the softmax and
 * top-k over it (onnxruntime). It serves the same `shardmax.v1.Softmax`
 * Query as the shardmax gateway, so one load generator drives both.
 *
 *   node dist/bench/gather/gateway.js --shards HOST:PORT,… --vocab-size V [--threads N] [--listen HOST:PORT]
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import ort from "onnxruntime-node";
import { ShardmaxError } from "../../shared/errors.js";
import { DEFAULT_MAX_MESSAGE_BYTES, messageLimits } from "../../shared/grpc/proto.js";
import { cpuSessionOptions } from "../../shared/onnx/session-options.js";
import { type QueryRequest, serveSoftmax } from "../softmax-server.js";
import { gatherShardService, type LogitsRequest, type LogitsResponse } from "./gather-proto.js";
import { gatheredSoftmaxGraph } from "./graphs.js";

const { values } = parseArgs({
  options: {
    shards: { type: "string" },
    "vocab-size": { type: "string" },
    threads: { type: "string", default: "1" },
    listen: { type: "string", default: "127.0.0.1:0" },
  },
});
const vocabSize = Number(values["vocab-size"]);
const GatherShard = gatherShardService();
type Unary = (request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, response?: LogitsResponse) => void) => void;
const shards = values
  .shards!.split(",")
  .map(
    (address) =>
      new GatherShard(address, grpc.credentials.createInsecure(), messageLimits(DEFAULT_MAX_MESSAGE_BYTES)) as unknown as grpc.Client & { logits: Unary },
  );
const session = await ort.InferenceSession.create(gatheredSoftmaxGraph(vocabSize), cpuSessionOptions(Number(values.threads)));

const askShard = (shard: (typeof shards)[number], request: LogitsRequest) =>
  new Promise<LogitsResponse>((resolve, reject) =>
    shard.logits(request, { deadline: new Date(Date.now() + 60_000) }, (err, response) => (err ? reject(ShardmaxError.from(err)) : resolve(response!))),
  );

async function query(request: QueryRequest): Promise<object> {
  const { rows, dim } = request;
  const answers = await Promise.all(shards.map((shard) => askShard(shard, { rows, dim, hidden: request.hidden })));
  // The gather: every shard's rows×V_s logits, copied once into [rows, V] (one copy per row and shard).
  const gathered = new Float32Array(rows * vocabSize);
  const bytes = new Uint8Array(gathered.buffer);
  for (const answer of answers) {
    const width = answer.rangeEnd - answer.rangeStart;
    for (let row = 0; row < rows; row++) {
      bytes.set(answer.logits.subarray(row * width * 4, (row + 1) * width * 4), (row * vocabSize + answer.rangeStart) * 4);
    }
  }
  const k = Math.min(request.topK ?? 5, vocabSize);
  const kRun = Math.max(1, k);
  const out = await session.run({
    logits: new ort.Tensor("float32", gathered, [rows, vocabSize]),
    temperature: new ort.Tensor("float32", new Float32Array([request.temperature || 1]), [1]),
    k: new ort.Tensor("int64", new BigInt64Array([BigInt(kRun)]), [1]),
  });
  const logZ = out.log_z!.data as Float32Array;
  const z = out.top_z!.data as Float32Array;
  const ids = out.top_ids!.data as BigInt64Array;
  const results = Array.from({ length: rows }, (_, row) => ({
    logZ: logZ[row],
    top: Array.from({ length: k }, (_, j) => {
      const at = row * kRun + j;
      const logprob = z[at]! - logZ[row]!;
      return { id: Number(ids[at]), logit: z[at], logprob, prob: Math.exp(logprob) };
    }),
    targets: [],
  }));
  return { model: { fingerprint: "", vocabSize, dim }, results };
}

await serveSoftmax({ listen: values.listen!, model: { vocabSize }, query });
shards.forEach((s) => s.close());
await session.release();
process.exit(0);
