/**
 * The onnxruntime session of one shard and the one call the server needs:
 * run a batch of rows, get a BatchPartial with global class ids.
 *
 * onnxruntime pitfalls handled here: an empty batch crashes the process (never
 * run B=0); a target index outside the slice fails the run (targets arrive
 * already routed to this shard, and padding uses index 0); k above the slice
 * size fails (k is clamped); several sessions in one process need spinning off.
 */
import ort from "onnxruntime-node";
import { ShardmaxError } from "../../shared/errors.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { ClassRange } from "../../shared/ranges.js";
import { INPUTS, OUTPUTS, partialGraph, type SliceWeights } from "./partial-graph.js";

export interface SessionOptions {
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  threads: number;
}

/** One batch as the shard's server hands it over; ids are global. */
export interface PartialBatch {
  rows: number;
  hidden: Float32Array;
  topK: number;
  /** One temperature per row (requests with different temperatures may share a batch). */
  temperature: Float32Array;
  targetCounts: Uint32Array;
  targetIds: Uint32Array;
}

export class ShardSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly range: ClassRange,
    readonly dim: number,
  ) {}

  static async create(range: ClassRange, slice: SliceWeights, options: SessionOptions): Promise<ShardSession> {
    const model = partialGraph(slice);
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
    });
    return new ShardSession(session, range, slice.dim);
  }

  async run(batch: PartialBatch): Promise<BatchPartial> {
    const { rows } = batch;
    if (rows === 0) throw new ShardmaxError("INTERNAL", "an empty batch must never reach onnxruntime");
    const k = Math.min(batch.topK, this.range.size);
    const kRun = Math.max(1, k);
    const targetWidth = Math.max(1, ...batch.targetCounts);
    const local = new BigInt64Array(rows * targetWidth);
    let next = 0;
    for (let row = 0; row < rows; row++) {
      for (let j = 0; j < batch.targetCounts[row]!; j++) {
        local[row * targetWidth + j] = BigInt(batch.targetIds[next++]! - this.range.start);
      }
    }
    const out = await this.session.run({
      [INPUTS.hidden]: new ort.Tensor("float32", batch.hidden, [rows, this.dim]),
      [INPUTS.temperature]: new ort.Tensor("float32", batch.temperature, [rows, 1]),
      [INPUTS.k]: new ort.Tensor("int64", new BigInt64Array([BigInt(kRun)]), [1]),
      [INPUTS.targets]: new ort.Tensor("int64", local, [rows, targetWidth]),
    });
    return this.toPartial(batch, k, kRun, targetWidth, out);
  }

  private toPartial(batch: PartialBatch, k: number, kRun: number, targetWidth: number, out: ort.InferenceSession.ReturnType): BatchPartial {
    const { rows } = batch;
    const maxOut = out[OUTPUTS.max]!.data as Float32Array;
    const sumOut = out[OUTPUTS.sumExp]!.data as Float64Array;
    const max = new Float64Array(rows);
    const sumExp = new Float64Array(rows);
    for (let row = 0; row < rows; row++) {
      const m = maxOut[row]!;
      if (Number.isNaN(m) || m === Infinity) {
        throw new ShardmaxError("INVALID_ARGUMENT", `row ${row}: logits overflow float32 (is the temperature too small?)`);
      }
      max[row] = m;
      // All classes −∞: exp(−∞ − (−∞)) is NaN; such a slice holds no mass.
      sumExp[row] = m === -Infinity ? 0 : sumOut[row]!;
    }
    const logitsOut = out[OUTPUTS.topLogits]!.data as Float32Array;
    const indicesOut = out[OUTPUTS.topIndices]!.data as BigInt64Array;
    const topIds = new Uint32Array(rows * k);
    const topLogits = new Float32Array(rows * k);
    for (let row = 0; row < rows; row++) {
      for (let j = 0; j < k; j++) {
        topIds[row * k + j] = Number(indicesOut[row * kRun + j]!) + this.range.start;
        topLogits[row * k + j] = logitsOut[row * kRun + j]!;
      }
    }
    const gathered = out[OUTPUTS.targetLogits]!.data as Float32Array;
    const targetLogits = new Float32Array(batch.targetIds.length);
    let next = 0;
    for (let row = 0; row < rows; row++) {
      for (let j = 0; j < batch.targetCounts[row]!; j++) targetLogits[next++] = gathered[row * targetWidth + j]!;
    }
    for (const tensor of Object.values(out)) tensor.dispose();
    return { rows, k, max, sumExp, topIds, topLogits, targetLogits };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
