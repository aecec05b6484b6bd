/**
 * The onnxruntime side of one shard and the one call the server needs: run a
 * batch of rows, get a BatchPartial with global class ids.
 *
 * The slice is served by consecutive blocks, each its own onnxruntime session
 * (see block-plan.ts); a batch runs through every block in turn and the
 * blocks' partials are combined exactly (shared/math/combine-partials.ts).
 * A slice can be given in memory, or as a source read block by block into
 * one reused buffer, so a shard never holds a second full copy of its slice.
 */
import ort from "onnxruntime-node";
import { ShardmaxError } from "../../shared/errors.js";
import { combinePartials, routeFlatTargets } from "../../shared/math/combine-partials.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { filled, needsGrid, needsLogits, optionAt, type RowOptions } from "../../shared/math/row-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { partSampling } from "../../shared/sampling/part-draws.js";
import { combineGrids } from "../../shared/sampling/sample-grid.js";
import { CHUNK } from "../../shared/sampling/sample-scan.js";
import { augmentedLength, augmentHidden, augmentInPlace } from "./augmented-block.js";
import { planBlocks, rowsPerBlock } from "./block-plan.js";
import { type BlockFeeds, BlockSession, type SliceLogits } from "./block-session.js";
import type { SliceWeights } from "./partial-graph.js";

export interface SessionOptions {
  /** onnxruntime intra-op threads; 0 lets onnxruntime choose. */
  threads: number;
  /** Rows per onnxruntime block; unset chooses from the slice size (block-plan.ts). */
  blockRows?: number;
  /** Told after each block is built: rows built so far, of all. */
  onBlock?: (rowsDone: number, rowsTotal: number) => void;
}

/** A slice still on disk: `read` fills rows [start, end) of the slice (local ids) into the given arrays. */
export interface SliceSource {
  rows: number;
  dim: number;
  hasBias: boolean;
  read(local: ClassRange, weight: Float32Array, bias: Float32Array | null): Promise<void>;
}

/** One batch as the shard's server hands it over; ids are global. */
export interface PartialBatch {
  rows: number;
  hidden: Float32Array;
  topK: number;
  /** Per-row temperature and sampling options (requests with different options share a batch). */
  options: RowOptions;
  targetCounts: Uint32Array;
  targetIds: Uint32Array;
}

/** Rows whose scaled logits the full distribution wants (no top-k, no targets). */
export interface LogitsBatch {
  rows: number;
  hidden: Float32Array;
  /** One temperature per row. */
  temperature: Float64Array;
}

export class ShardSession {
  private constructor(
    private readonly blocks: readonly BlockSession[],
    readonly range: ClassRange,
    readonly dim: number,
    private readonly blockRows: number,
  ) {}

  static async create(range: ClassRange, weights: SliceWeights | SliceSource, options: SessionOptions): Promise<ShardSession> {
    const slice = "weight" in weights ? memorySource(weights) : weights;
    if (slice.rows !== range.size) throw new ShardmaxError("INTERNAL", `slice has ${slice.rows} rows for range ${range}`);
    const perBlock = rowsPerBlock(slice.rows, slice.dim, options.blockRows);
    const blocks: BlockSession[] = [];
    // One buffer of one block, refilled for each (onnxruntime keeps its own copy).
    const buffer = new Float32Array(augmentedLength(perBlock, slice.dim));
    const bias = slice.hasBias ? new Float32Array(perBlock) : null;
    try {
      for (const block of planBlocks(range, perBlock)) {
        const local = ClassRange.of(block.start - range.start, block.end - range.start);
        const b = bias?.subarray(0, local.size) ?? null;
        await slice.read(local, buffer.subarray(0, local.size * slice.dim), b);
        const augmented = augmentInPlace(buffer, local.size, slice.dim, b);
        blocks.push(await BlockSession.create(block, slice.dim, augmented, options.threads));
        options.onBlock?.(local.end, slice.rows);
      }
    } catch (err) {
      await Promise.all(blocks.map((b) => b.close()));
      throw err;
    }
    return new ShardSession(blocks, range, slice.dim, perBlock);
  }

  /** How many onnxruntime blocks serve the slice. */
  get blockCount(): number {
    return this.blocks.length;
  }

  async run(batch: PartialBatch): Promise<BatchPartial> {
    const { rows } = batch;
    if (rows === 0) throw new ShardmaxError("INTERNAL", "an empty batch must never reach onnxruntime");
    const k = Math.min(batch.topK, this.range.size);
    const feeds: BlockFeeds = {
      rows,
      hidden: new ort.Tensor("float32", augmentHidden(batch.hidden, filled(batch.options, "temperatures", rows), rows, this.dim), [rows, this.dim + 1]),
    };
    const targets = { counts: batch.targetCounts, ids: batch.targetIds };
    const sink = this.sinkFor(batch);
    const routed = routeFlatTargets(targets, this.blocks.length, (id) => Math.floor((id - this.range.start) / this.blockRows));
    const parts: BatchPartial[] = [];
    // One block at a time: each run already uses every intra-op thread.
    for (const [i, block] of this.blocks.entries()) parts.push(await block.run(feeds, k, routed.perPart[i]!, sink));
    const whole = combinePartials(parts, k, routed.owners);
    if (!sink) return whole;
    // Draws are searched over the whole slice at once (best-first across all its groups), not block by block.
    const grids = sink.grids?.map((list) => (list.length > 0 ? combineGrids(list) : undefined));
    const part = { ...whole, start: this.range.start, size: this.range.size, logits: sink.logits, stride: sink.stride, chunkMaxima: sink.chunkMaxima, grids };
    return { ...whole, ...partSampling(part, batch.options) };
  }

  /**
   * Where a sampling batch's blocks put their logits; none for a batch without draws or mass points.
   * Reused from batch to batch (one runs at a time, and nothing of it outlives its batch): a fresh
   * [rows, V_s] array per batch would cost page faults on the scale of the copy itself.
   */
  private sinkFor(batch: PartialBatch): SliceLogits | undefined {
    if (!needsLogits(batch.options)) return undefined;
    const stride = this.range.size;
    const need = batch.rows * stride;
    if (this.sinkLogits.length < need) this.sinkLogits = new Float32Array(need);
    const chunks = Math.floor((this.range.end - 1) / CHUNK) - Math.floor(this.range.start / CHUNK) + 1;
    if (this.sinkChunks.length < batch.rows * chunks) this.sinkChunks = new Float32Array(batch.rows * chunks);
    const chunkMaxima = this.sinkChunks.subarray(0, batch.rows * chunks).fill(-Infinity);
    const grid = needsGrid(batch.options) ? gridRowsOf(batch.options, batch.rows) : null;
    return { start: this.range.start, stride, logits: this.sinkLogits.subarray(0, need), chunkMaxima, chunks, ...(grid ?? {}) };
  }

  private sinkLogits = new Float32Array(0);
  private sinkChunks = new Float32Array(0);

  /** z = (W·h + b)/T of every class of the slice: [rows, range size] row-major, block by block. */
  async logits(batch: LogitsBatch): Promise<Float32Array> {
    const { rows } = batch;
    if (rows === 0) throw new ShardmaxError("INTERNAL", "an empty batch must never reach onnxruntime");
    const feeds: BlockFeeds = {
      rows,
      hidden: new ort.Tensor("float32", augmentHidden(batch.hidden, batch.temperature, rows, this.dim), [rows, this.dim + 1]),
    };
    const out = new Float32Array(rows * this.range.size);
    for (const block of this.blocks) await block.logits(feeds, out, this.range.size, block.range.start - this.range.start);
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.blocks.map((b) => b.close()));
  }
}

/** The rows that sample under top-p, and an empty list of block grids for each row. */
function gridRowsOf(options: RowOptions, rows: number): { gridRows: Uint8Array; grids: Float64Array[][] } {
  const gridRows = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const topP = optionAt(options, "topP", r);
    gridRows[r] = optionAt(options, "drawCounts", r) > 0 && topP > 0 && topP < 1 ? 1 : 0;
  }
  return { gridRows, grids: Array.from({ length: rows }, () => []) };
}

/** A slice already in memory, read like one on disk. */
function memorySource(slice: SliceWeights): SliceSource {
  return {
    rows: slice.rows,
    dim: slice.dim,
    hasBias: slice.bias !== null,
    read: async (local, weight, bias) => {
      weight.set(slice.weight.subarray(local.start * slice.dim, local.end * slice.dim));
      bias?.set(slice.bias!.subarray(local.start, local.end));
    },
  };
}
