/**
 * The full distribution, whichever door it came in by: log p_i = z_i − logZ
 * for every class i of every row.
 *
 * Two passes. First the exact global logZ of each row, from one ordinary
 * Partial round (top-k 0, no targets; the query path, coalescer included).
 * Then one Shard.Logits stream per range, on one healthy replica each, read
 * in output order (row-major; within a row, ranges in class order) and
 * turned into log-probs in float64, emitted as float32. Each range holds at
 * most MAX_HELD_PER_RANGE chunks: the other ranges wait, paused by HTTP/2 flow
 * control, while one is read. Wire cost: 4·V bytes per row from the shards,
 * 4·V to the client (octet-stream), against O(k) for a query.
 *
 * Never a subset: a range that fails, ends early or sends chunks out of order
 * fails the whole distribution, and every other range's stream is cancelled.
 */

import { ShardmaxError } from "../../shared/errors.js";
import type { DistributionChunk } from "../../shared/results.js";
import { float32From } from "../../shared/tensor-bytes.js";
import type { GatewayContext } from "./context.js";
import { checkFiniteHidden, checkHiddenShape, checkTemperature, type QueryLimits } from "./query.js";
import { runOnCurrentTopology } from "./query-rerun.js";
import { RangeStream } from "./range-stream.js";
import { servingState } from "./readiness.js";
import { ReplicaPicker } from "./replica-picker.js";
import type { ModelRef } from "./topology.js";

export interface DistributionRequest {
  rows: number;
  dim: number;
  /** rows × dim, row-major. */
  hidden: Float32Array;
  temperature: number;
}

export interface DistributionLimits extends QueryLimits {
  /** Most rows × V one request may ask for (--max-distribution-values). */
  maxDistributionValues: number;
}

/** Classes [start, start + logprobs.length) of one row. */
/** Counters for tests and operators. */
export interface DistributionStats {
  /** Distributions that reached the streaming pass. */
  streamed: number;
  /** Most chunks any one range held at once (bounded by MAX_HELD_PER_RANGE). */
  maxHeldPerRange: number;
  /** Most chunk writes a door had waiting for its client at once (back-pressure keeps it at 1–2). */
  maxPendingWrites: number;
}

/** An open distribution: the model, each row's logZ, and the chunks, to be read once, in order. */
export interface OpenDistribution {
  model: ModelRef;
  logZ: Float64Array;
  chunks: AsyncGenerator<DistributionChunk>;
  /** Stops every shard stream (the client went away). */
  cancel(): void;
}

/** Refusals that need only the model: made before any shard is called. */
export function checkDistribution(request: DistributionRequest, model: ModelRef, limits: DistributionLimits): void {
  const { rows, dim } = request;
  checkHiddenShape(rows, dim, model, limits.maxRows);
  checkTemperature(request.temperature);
  const values = rows * model.vocabSize;
  if (values > limits.maxDistributionValues) {
    throw new ShardmaxError(
      "REQUEST_TOO_LARGE",
      `hidden: ${rows} rows × V ${model.vocabSize} = ${values} log-probs is over --max-distribution-values ${limits.maxDistributionValues}; ` +
        `send at most ${Math.floor(limits.maxDistributionValues / model.vocabSize)} rows`,
    );
  }
  checkFiniteHidden(request.hidden, dim);
}

export class DistributionService {
  readonly stats: DistributionStats = { streamed: 0, maxHeldPerRange: 0, maxPendingWrites: 0 };
  private readonly picker = new ReplicaPicker();

  private readonly limits: DistributionLimits;

  constructor(
    private readonly context: Omit<GatewayContext, "distribution">,
    maxDistributionValues: number,
  ) {
    this.limits = { ...context.limits, maxDistributionValues };
  }

  /** The model the next distribution would use, or the reason there is none. */
  model(): ModelRef {
    const state = servingState(this.context.shardSet.topology, this.context.labels);
    if (!state.ok) throw new ShardmaxError(state.code, state.reason);
    return state.model;
  }

  /**
   * Checks, runs the logZ round and opens every range's stream; resolves once
   * each range has sent its first chunk (so a failure up to here is still a
   * clean error, before any byte of the answer). `check` refuses what the
   * door cannot carry (e.g. JSON size) before any shard call.
   */
  async open(request: DistributionRequest, deadline: Date, check: (model: ModelRef) => void = () => {}): Promise<OpenDistribution> {
    const { shardSet, fanOut, labels, exposeTopology } = this.context;
    const limits = this.limits;
    const model = this.model();
    checkDistribution(request, model, limits);
    check(model);
    const query = { rows: request.rows, dim: request.dim, hidden: request.hidden, topK: 0, targets: [], temperature: request.temperature };
    const answer = await runOnCurrentTopology(query, () => shardSet.topology, fanOut, limits, deadline, labels);
    const topology = shardSet.topology;
    if (!topology.ready || topology.model.fingerprint !== answer.model.fingerprint) {
      throw new ShardmaxError("UNAVAILABLE", "the served head changed between the logZ round and the logits (a rolling update?); retry");
    }
    const logZ = Float64Array.from(answer.results, (r) => r.logZ);
    const streams = topology.map.ranges.map((range, r) => new RangeStream(range, topology.healthy[r]!, shardSet, this.picker, exposeTopology));
    const cancel = () => streams.forEach((s) => s.cancel());
    const call = { rows: request.rows, dim: request.dim, hidden: request.hidden, temperature: request.temperature, fingerprint: answer.model.fingerprint };
    try {
      await Promise.all(streams.map((s) => s.open(call, deadline)));
    } catch (err) {
      cancel();
      throw err;
    }
    this.stats.streamed++;
    return { model: answer.model, logZ, chunks: this.read(streams, logZ), cancel };
  }

  private async *read(streams: RangeStream[], logZ: Float64Array): AsyncGenerator<DistributionChunk> {
    try {
      for (let row = 0; row < logZ.length; row++) {
        for (const stream of streams) {
          for (let start = stream.range.start; start < stream.range.end; ) {
            const chunk = await stream.next();
            const logits = chunk === null ? null : float32From(chunk.logits, "logits");
            if (chunk === null || chunk.row !== row || chunk.start !== start || logits!.length === 0 || start + logits!.length > stream.range.end) {
              const got = chunk === null ? "the end of the stream" : `row ${chunk.row} classes from ${chunk.start}`;
              throw new ShardmaxError("INTERNAL", `range ${stream.range}: expected row ${row} classes from ${start}, got ${got}`);
            }
            this.stats.maxHeldPerRange = Math.max(this.stats.maxHeldPerRange, stream.maxHeld);
            yield { row, start, logprobs: logProbs(logits!, logZ[row]!), logZ: logZ[row]! };
            start += logits!.length;
          }
        }
      }
      // A stream must also end cleanly: a trailing error status means the shard did not vouch for what it sent.
      for (const stream of streams) {
        if ((await stream.next()) !== null) throw new ShardmaxError("INTERNAL", `range ${stream.range} sent more rows than asked`);
      }
    } finally {
      streams.forEach((s) => s.cancel());
    }
  }
}

/** log p_i = z_i − logZ, in float64, rounded once to float32. */
export function logProbs(logits: Float32Array, logZ: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - logZ;
  return out;
}
