/**
 * One onnxruntime session over one block of a shard's rows: W' = [W | b]
 * (augmented-block.ts) handed over as in-memory external data (onnxruntime copies and prepacks them while
 * the session is created, so the caller's buffer is free again afterwards),
 * and one run turned into a BatchPartial with global class ids.
 *
 * onnxruntime pitfalls handled here: an empty batch crashes the process (never
 * run B=0); a target index outside the block fails the run (targets arrive
 * already routed to this block, and padding uses index 0); k above the block
 * size fails (k is clamped); several sessions in one process need spinning off.
 */
import ort from "onnxruntime-node";
import { ShardmaxError } from "../../shared/errors.js";
import type { FlatTargets } from "../../shared/math/combine-partials.js";
import { type BatchPartial, partialFrom } from "../../shared/math/partial.js";
import { cpuSessionOptions } from "../../shared/onnx/session-options.js";
import type { ClassRange } from "../../shared/ranges.js";
import { partGrid } from "../../shared/sampling/sample-grid.js";
import { CHUNK } from "../../shared/sampling/sample-scan.js";
import { paddedRows } from "./augmented-block.js";
import { externalData, INPUTS, OUTPUTS, PARTIAL_FETCHES, partialGraph } from "./partial-graph.js";

/** A sampling batch's logits over the whole slice, [rows, stride], that each block fills at its own columns. */
export interface SliceLogits {
  /** Global id of the slice's first class. */
  start: number;
  stride: number;
  logits: Float32Array;
  /** Rows that sample under top-p: each block adds its mass grid (sample-grid.ts) to `grids[row]`. */
  gridRows?: Uint8Array;
  grids?: Float64Array[][];
  /** [rows, chunks] the best logit of each aligned chunk of CHUNK global ids touching the slice, filled while copying (sample-scan.ts). */
  chunkMaxima: Float32Array;
  chunks: number;
}

/** The inputs every block of a batch shares, built once per batch. */
export interface BlockFeeds {
  rows: number;
  /** h' = [h/T | 1/T], [rows, d + 1]. */
  hidden: ort.Tensor;
}

export class BlockSession {
  /**
   * onnxruntime writes a sampling batch's logits and probs here (pre-allocated outputs): a fresh
   * [rows, V_block] output per run costs page faults as large as the copy itself.
   */
  private readonly outputs = new Map<string, Float32Array>();

  private constructor(
    private readonly session: ort.InferenceSession,
    /** The block's classes, global ids. */
    readonly range: ClassRange,
  ) {}

  /** `augmented` is the block's W' (augmentInPlace); it may be reused once this resolves. */
  static async create(range: ClassRange, dim: number, augmented: Float32Array, threads: number): Promise<BlockSession> {
    const model = partialGraph({ rows: range.size, dim });
    const session = await ort.InferenceSession.create(model, { ...cpuSessionOptions(threads), externalData: externalData(augmented) });
    return new BlockSession(session, range);
  }

  /**
   * `targets` are the global ids this block owns, row by row; k ≤ the shard's
   * range size. With a `sink` (a batch that samples), the block's logits are
   * copied into the slice-wide arrays at the block's columns (and its mass
   * grids added for top-p rows); otherwise a run never copies [B, V_block]
   * out of onnxruntime.
   */
  async run(feeds: BlockFeeds, k: number, targets: FlatTargets, sink?: SliceLogits): Promise<BatchPartial> {
    const { rows } = feeds;
    if (rows === 0) throw new ShardmaxError("INTERNAL", "an empty batch must never reach onnxruntime");
    const kBlock = Math.min(k, this.range.size);
    const kRun = Math.max(1, kBlock);
    const targetWidth = Math.max(1, ...targets.counts);
    const local = new BigInt64Array(rows * targetWidth);
    let next = 0;
    for (let row = 0; row < rows; row++) {
      for (let j = 0; j < targets.counts[row]!; j++) local[row * targetWidth + j] = BigInt(targets.ids[next++]! - this.range.start);
    }
    const owned: string[] = sink ? [OUTPUTS.logits, ...(sink.gridRows ? [OUTPUTS.probs] : [])] : [];
    const fetches: Record<string, ort.Tensor | null> = Object.fromEntries(PARTIAL_FETCHES.map((name) => [name, null]));
    for (const name of owned) fetches[name] = this.output(name, rows);
    const out = await this.session.run(
      {
        [INPUTS.hidden]: feeds.hidden,
        [INPUTS.k]: new ort.Tensor("int64", new BigInt64Array([BigInt(kRun)]), [1]),
        [INPUTS.targets]: new ort.Tensor("int64", local, [rows, targetWidth]),
      },
      fetches,
    );
    try {
      const partial = this.toPartial(rows, kBlock, kRun, targets, targetWidth, out);
      if (sink) this.copyOut(rows, out, sink, partial.max);
      return partial;
    } finally {
      for (const [name, tensor] of Object.entries(out)) if (!owned.includes(name)) tensor.dispose();
    }
  }

  /**
   * The block's scaled logits z, [rows, block size] row-major, copied into
   * `into` at row stride `stride` from column `offset` (padding columns dropped).
   */
  async logits(feeds: BlockFeeds, into: Float32Array, stride: number, offset: number): Promise<void> {
    const { rows } = feeds;
    if (rows === 0) throw new ShardmaxError("INTERNAL", "an empty batch must never reach onnxruntime");
    const out = await this.session.run(
      {
        [INPUTS.hidden]: feeds.hidden,
        [INPUTS.k]: new ort.Tensor("int64", new BigInt64Array([1n]), [1]),
        [INPUTS.targets]: new ort.Tensor("int64", new BigInt64Array(rows), [rows, 1]),
      },
      [OUTPUTS.logits],
    );
    try {
      const z = out[OUTPUTS.logits]!.data as Float32Array;
      const width = z.length / rows;
      const size = this.range.size;
      for (let row = 0; row < rows; row++) into.set(z.subarray(row * width, row * width + size), row * stride + offset);
    } finally {
      for (const tensor of Object.values(out)) tensor.dispose();
    }
  }

  /** A pre-allocated [rows, padded block rows] output, grown to the largest batch seen. */
  private output(name: string, rows: number): ort.Tensor {
    const width = paddedRows(this.range.size);
    let buffer = this.outputs.get(name);
    if (!buffer || buffer.length < rows * width) this.outputs.set(name, (buffer = new Float32Array(rows * width)));
    return new ort.Tensor("float32", buffer.subarray(0, rows * width), [rows, width]);
  }

  /** Logits and group maxima into the sink, and the block's mass grid of each top-p row. */
  private copyOut(rows: number, out: ort.InferenceSession.ReturnType, sink: SliceLogits, max: Float64Array): void {
    const z = out[OUTPUTS.logits]!.data as Float32Array;
    const width = z.length / rows;
    const size = this.range.size;
    const at = this.range.start - sink.start;
    const probs = sink.gridRows ? (out[OUTPUTS.probs]!.data as Float32Array) : null;
    const probOfMax = out[OUTPUTS.probOfMax]!.data as Float32Array;
    const firstChunk = Math.floor(sink.start / CHUNK);
    const { logits, chunkMaxima, chunks } = sink;
    for (let row = 0; row < rows; row++) {
      const src = row * width;
      logits.set(z.subarray(src, src + size), row * sink.stride + at);
      // Chunk maxima from the block's own output (still in cache): the scan then never reads a chunk it does not visit.
      for (let from = 0; from < size; ) {
        const chunk = Math.floor((this.range.start + from) / CHUNK);
        const to = Math.min(size, (chunk + 1) * CHUNK - this.range.start);
        const slot = row * chunks + chunk - firstChunk;
        let m = chunkMaxima[slot]!;
        for (let i = src + from; i < src + to; i++) if (z[i]! > m) m = z[i]!;
        chunkMaxima[slot] = m;
        from = to;
      }
      if (!probs || !sink.gridRows![row]) continue;
      // The block's own grid from onnxruntime's softmax (p / p[argmax] = exp(z − max)): no exp per class; grids add up exactly.
      const weights = { probs: probs.subarray(src, src + size), scale: 1 / probOfMax[row]! };
      sink.grids![row]!.push(partGrid(z.subarray(src, src + size), max[row]!, weights));
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private toPartial(rows: number, k: number, kRun: number, targets: FlatTargets, targetWidth: number, out: ort.InferenceSession.ReturnType): BatchPartial {
    const maxOut = out[OUTPUTS.max]!.data as Float32Array;
    const probSum = out[OUTPUTS.probSum]!.data as Float64Array;
    const probOfMax = out[OUTPUTS.probOfMax]!.data as Float32Array;
    const max = new Float64Array(rows);
    const sumExp = new Float64Array(rows);
    for (let row = 0; row < rows; row++) {
      const m = maxOut[row]!;
      // All classes −∞: such a block holds no mass (and exp(−∞ − (−∞)) would be NaN).
      const s = m === -Infinity ? 0 : probSum[row]! / probOfMax[row]!;
      // A finite max contributes exp(0) = 1 by itself, so S ≥ 1: NaN or ∞ anywhere means the logits left float32.
      if (Number.isNaN(m) || m === Infinity || (m !== -Infinity && !(s >= 0.5 && s < Infinity))) {
        throw new ShardmaxError("INVALID_ARGUMENT", `row ${row}: logits overflow float32 (is the temperature too small?)`);
      }
      max[row] = m;
      sumExp[row] = s;
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
    const targetLogits = new Float32Array(targets.ids.length);
    let next = 0;
    for (let row = 0; row < rows; row++) {
      for (let j = 0; j < targets.counts[row]!; j++) targetLogits[next++] = gathered[row * targetWidth + j]!;
    }
    return partialFrom({ rows, k, max, sumExp, topIds, topLogits, targetCounts: targets.counts, targetLogits });
  }
}
