/**
 * Baseline A: one process holding the whole head in one onnxruntime session,
 * one run per request (no batching), serving the same `shardmax.v1.Softmax`
 * Query as the gateway so one load generator drives every system alike.
 *
 *   node dist/bench/single/server.js --weights builtin:VxD --threads N [--listen HOST:PORT]
 */
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { invalidField } from "../../shared/errors.js";
import { cpuSessionOptions } from "../../shared/onnx/session-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { float32From } from "../../shared/tensor-bytes.js";
import { type QueryRequest, serveSoftmax } from "../softmax-server.js";
import { wholeHeadGraph } from "./graph.js";

const { values } = parseArgs({
  options: { weights: { type: "string" }, threads: { type: "string", default: "0" }, listen: { type: "string", default: "127.0.0.1:0" } },
});
const head = await openHead(values.weights!);
const { vocabSize, dim, source } = head.description;
const slice = await head.readRows(ClassRange.of(0, vocabSize));
const fingerprint = await head.fingerprint();
const session = await ort.InferenceSession.create(wholeHeadGraph(vocabSize, dim, slice.weight, slice.bias), cpuSessionOptions(Number(values.threads)));

async function query(request: QueryRequest): Promise<object> {
  if (request.dim !== dim) throw invalidField("dim", `is ${request.dim}, this head has d=${dim}`);
  const hidden = float32From(request.hidden, "hidden");
  const k = Math.min(request.topK ?? 5, vocabSize);
  const out = await session.run({
    hidden: new ort.Tensor("float32", hidden, [request.rows, dim]),
    temperature: new ort.Tensor("float32", new Float32Array([request.temperature || 1]), [1]),
    k: new ort.Tensor("int64", new BigInt64Array([BigInt(Math.max(1, k))]), [1]),
  });
  const p = out.top_p!.data as Float32Array;
  const ids = out.top_ids!.data as BigInt64Array;
  const z = out.top_z!.data as Float32Array;
  const kRun = Math.max(1, k);
  const results = Array.from({ length: request.rows }, (_, row) => {
    const top = Array.from({ length: k }, (_, j) => {
      const at = row * kRun + j;
      return { id: Number(ids[at]), logit: z[at], logprob: Math.log(p[at]!), prob: p[at] };
    });
    // log p = z − logZ, so the best class gives logZ back.
    const first = row * kRun;
    return { logZ: z[first]! - Math.log(p[first]!), top, targets: [] };
  });
  return { model: { fingerprint, vocabSize, dim }, results };
}

await serveSoftmax({ listen: values.listen!, model: { fingerprint, vocabSize, dim }, query, listening: { source } });
await session.release();
process.exit(0);
