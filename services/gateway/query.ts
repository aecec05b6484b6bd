/**
 * A query as the gateway runs it, whichever door it came in by (REST or gRPC):
 * checked against the model, targets routed to their ranges, fanned out,
 * merged into exact results. Every refusal names the field and the reason.
 */

import { type Labels, withLabels } from "../../shared/checkpoint/labels.js";
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import { answerBytes } from "../../shared/limits/query-cost.js";
import { routeFlatTargets } from "../../shared/math/combine-partials.js";
import { mergeRanges, rowResults } from "../../shared/math/merge.js";
import type { RowResult } from "../../shared/results.js";
import type { DrawRecord } from "../../shared/sampling/sample-records.js";
import type { Context } from "../../shared/tracing/tracing.js";
import type { FanOut } from "./fanout.js";
import { servingState } from "./readiness.js";
import { candidatesFor, checkSample, massOptions, pickSamples, rowSeeds, type SampleRequest, sampleOptions } from "./sampling.js";
import type { ModelRef, Topology } from "./topology.js";

export interface Query {
  rows: number;
  dim: number;
  /** rows × dim, row-major. */
  hidden: Float32Array;
  topK: number;
  /** Empty, or one list of global class ids per row. */
  targets: number[][];
  temperature: number;
  /** Gumbel-max draws per row (sampling.ts); none when absent. */
  sample?: SampleRequest;
  /** The query's trace context when tracing is on (set by the core; shard calls become its children). */
  trace?: Context;
  /** Told each range's answered shard call time (the status page's per-range time, on request only). */
  onRangeTime?: (range: string, ms: number) => void;
}

export interface QueryLimits {
  maxRows: number;
  maxTopK: number;
  maxTargetsPerRow: number;
  /** Largest answer one query may build (JSON estimate, shared/limits/query-cost.ts). */
  maxResponseBytes: number;
  /** Most draws per row (--max-draws). */
  maxDraws: number;
}

export const DEFAULT_TOP_K = 5;

export interface Answer {
  model: ModelRef;
  results: RowResult[];
}

/** The rows limit, checked before anything is allocated for the rows. */
export function checkRowCount(rows: number, maxRows: number): void {
  if (rows > maxRows) throw new ShardmaxError("RESOURCE_EXHAUSTED", `hidden: ${rows} rows is over the limit of ${maxRows} per request`);
}

/** Rows, d against the model and the rows limit: the same for every request that carries hidden rows. */
export function checkHiddenShape(rows: number, dim: number, model: ModelRef, maxRows: number): void {
  if (rows < 1) throw invalidField("hidden", "is empty: send at least one row");
  checkRowCount(rows, maxRows);
  if (dim !== model.dim) throw invalidField("hidden", `rows have ${dim} numbers, the model has d=${model.dim}`);
}

/** Every hidden value finite, the first one that is not named by row and column. */
export function checkFiniteHidden(hidden: Float32Array, dim: number): void {
  for (let i = 0; i < hidden.length; i++) {
    if (!Number.isFinite(hidden[i]!)) throw invalidField(`hidden[${Math.floor(i / dim)}][${i % dim}]`, "is not a finite number");
  }
}

export function checkQuery(query: Query, model: ModelRef, limits: QueryLimits, labelBytes = 0): void {
  const { rows, dim } = query;
  checkHiddenShape(rows, dim, model, limits.maxRows);
  const maxTopK = Math.min(model.vocabSize, limits.maxTopK);
  if (!Number.isInteger(query.topK) || query.topK < 0 || query.topK > maxTopK) {
    throw invalidField("topK", `must be an integer from 0 to ${maxTopK}, got ${query.topK}`);
  }
  checkTemperature(query.temperature);
  if (query.sample) checkSample(query.sample, rows, limits, model.vocabSize);
  if (query.targets.length > 0 && query.targets.length !== rows) {
    throw invalidField("targets", `must be one list per row: ${query.targets.length} lists for ${rows} rows`);
  }
  let targets = 0;
  query.targets.forEach((list, row) => {
    if (list.length > limits.maxTargetsPerRow) throw invalidField(`targets[${row}]`, `has ${list.length} ids, the limit is ${limits.maxTargetsPerRow}`);
    targets += list.length;
  });
  // Before any work proportional to the answer: the answer is what one small request can blow up.
  const draws = query.sample?.n ?? 0;
  const bytes = answerBytes({ rows, topK: query.topK, targets, draws, labelBytes });
  if (bytes > limits.maxResponseBytes) {
    throw new ShardmaxError(
      "REQUEST_TOO_LARGE",
      `answer: ${rows} rows × (topK ${query.topK}${draws > 0 ? ` + ${draws} draws` : ""}) + ${targets} targets would be about ${bytes} bytes, over --max-response-bytes ${limits.maxResponseBytes}; send fewer rows, targets or draws or a smaller topK`,
    );
  }
  checkFiniteHidden(query.hidden, dim);
  query.targets.forEach((list, row) => {
    list.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
        throw invalidField(`targets[${row}][${j}]`, `class id ${id} is outside [0, ${model.vocabSize})`);
      }
    });
  });
}

/** The estimated bytes of a query's answer (0 for a query that checkQuery will refuse anyway). */
export function queryAnswerBytes(query: Query, labels: Labels | null): number {
  const targets = query.targets.reduce((n, list) => n + (Array.isArray(list) ? list.length : 0), 0);
  const topK = Number.isInteger(query.topK) && query.topK > 0 ? query.topK : 0;
  const n = query.sample?.n;
  const draws = Number.isInteger(n) && n! > 0 ? n! : 0;
  return answerBytes({ rows: query.rows, topK, targets, draws, labelBytes: labels?.maxBytes ?? 0 });
}

/**
 * The shards divide in float32: h/T and 1/T must stay finite and non-zero
 * there, so the check is made here, on the number as sent, rather than
 * reported later as the float32 it became ("Infinity", "0").
 */
export function checkTemperature(temperature: number): void {
  const ok = Number.isFinite(temperature) && temperature > 0 && Number.isFinite(Math.fround(temperature)) && Math.fround(temperature) > 0;
  const inverse = ok ? Math.fround(1 / temperature) : 0;
  if (!ok || !Number.isFinite(inverse) || inverse === 0) {
    throw invalidField("temperature", `must be a number > 0 whose value and inverse fit float32 (about 1e-38 to 1e38), got ${temperature}`);
  }
}

export async function runQuery(
  query: Query,
  snapshot: Topology,
  fanOut: Pick<FanOut, "partials">,
  limits: QueryLimits,
  deadline: Date,
  labels: Labels | null = null,
): Promise<Answer> {
  const state = servingState(snapshot, labels);
  if (!state.ok) throw new ShardmaxError(state.code, state.reason);
  const topology = state.topology;
  checkQuery(query, topology.model, limits, labels?.maxBytes ?? 0);
  const { map, model } = { map: topology.map, model: topology.model };
  const flat = {
    counts: Uint32Array.from(query.targets.length > 0 ? query.targets : Array.from({ length: query.rows }, () => []), (t) => t.length),
    ids: Uint32Array.from(query.targets.flat()),
  };
  const routed = routeFlatTargets(flat, map.ranges.length, (id) => map.owner(id)).perPart;
  const seeds = query.sample ? rowSeeds(query.sample, query.rows) : [];
  const options = sampleOptions(query.rows, query.temperature, query.sample, seeds);
  const k = Math.min(model.vocabSize, Math.max(query.topK, candidatesFor(query.sample)));
  const observed = { ...(query.trace ? { trace: query.trace } : {}), ...(query.onRangeTime ? { onRangeTime: query.onRangeTime } : {}) };
  const call = { rows: query.rows, dim: query.dim, hidden: query.hidden, topK: k, options, fingerprint: model.fingerprint, ...observed };
  const whole = mergeRanges(map, await fanOut.partials(topology, call, routed, deadline), k, query.targets);
  const results = rowResults(whole, query.topK, query.targets);
  if (query.sample) {
    const samples = await pickSamples(whole, query.sample, (rows, points) => massRound(query, rows, points, topology, fanOut, deadline));
    results.forEach((row, r) => Object.assign(row, { seed: seeds[r], samples: samples[r] }));
  }
  return { model, results: withLabels(results, labels) };
}

/** Top-p's second round: for `rows` of the query, log Σ exp z before each point, over the whole vocabulary. */
async function massRound(
  query: Query,
  rows: number[],
  points: DrawRecord[][],
  topology: ReadyTopology,
  fanOut: Pick<FanOut, "partials">,
  deadline: Date,
): Promise<Float64Array> {
  const { map, model } = topology;
  const hidden = new Float32Array(rows.length * query.dim);
  rows.forEach((row, i) => hidden.set(query.hidden.subarray(row * query.dim, (row + 1) * query.dim), i * query.dim));
  const options = massOptions(new Float64Array(rows.length).fill(query.temperature), points);
  const none = { counts: new Uint32Array(rows.length), ids: new Uint32Array(0) };
  const call = { rows: rows.length, dim: query.dim, hidden, topK: 0, options, fingerprint: model.fingerprint, ...(query.trace ? { trace: query.trace } : {}) };
  const partials = await fanOut.partials(
    topology,
    call,
    map.ranges.map(() => none),
    deadline,
  );
  return mergeRanges(map, partials, 0, []).massBefore;
}

type ReadyTopology = Extract<Topology, { ready: true }>;
