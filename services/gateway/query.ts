/**
 * A query as the gateway runs it, whichever door it came in by (REST or gRPC):
 * checked against the model, targets routed to their ranges, fanned out,
 * merged into exact results. Every refusal names the field and the reason.
 */
import { ShardmaxError, invalidField } from "../../shared/errors.js";
import { mergePartials } from "../../shared/math/merge.js";
import { routeTargets } from "../../shared/math/targets.js";
import { answerBytes } from "../../shared/limits/query-cost.js";
import type { FanOut } from "./fanout.js";
import { labelProblem, withLabels, type Labels, type LabeledRowResult } from "./labels.js";
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
}

export interface QueryLimits {
  maxRows: number;
  maxTopK: number;
  maxTargetsPerRow: number;
  /** Largest answer one query may build (JSON estimate, shared/limits/query-cost.ts). */
  maxResponseBytes: number;
}

export const DEFAULT_TOP_K = 5;

export interface Answer {
  model: ModelRef;
  results: LabeledRowResult[];
}

export function checkQuery(query: Query, model: ModelRef, limits: QueryLimits, labelBytes = 0): void {
  const { rows, dim } = query;
  if (rows < 1) throw invalidField("hidden", "is empty: send at least one row");
  if (rows > limits.maxRows) throw new ShardmaxError("RESOURCE_EXHAUSTED", `hidden: ${rows} rows is over the limit of ${limits.maxRows} per request`);
  if (dim !== model.dim) throw invalidField("hidden", `rows have ${dim} numbers, the model has d=${model.dim}`);
  const maxTopK = Math.min(model.vocabSize, limits.maxTopK);
  if (!Number.isInteger(query.topK) || query.topK < 0 || query.topK > maxTopK) {
    throw invalidField("topK", `must be an integer from 0 to ${maxTopK}, got ${query.topK}`);
  }
  checkTemperature(query.temperature);
  if (query.targets.length > 0 && query.targets.length !== rows) {
    throw invalidField("targets", `must be one list per row: ${query.targets.length} lists for ${rows} rows`);
  }
  let targets = 0;
  query.targets.forEach((list, row) => {
    if (list.length > limits.maxTargetsPerRow) throw invalidField(`targets[${row}]`, `has ${list.length} ids, the limit is ${limits.maxTargetsPerRow}`);
    targets += list.length;
  });
  // Before any work proportional to the answer: the answer is what one small request can blow up.
  const bytes = answerBytes({ rows, topK: query.topK, targets, draws: 0, labelBytes });
  if (bytes > limits.maxResponseBytes) {
    throw new ShardmaxError(
      "REQUEST_TOO_LARGE",
      `answer: ${rows} rows × (topK ${query.topK}) + ${targets} targets would be about ${bytes} bytes, over --max-response-bytes ${limits.maxResponseBytes}; send fewer rows, targets or a smaller topK`,
    );
  }
  for (let i = 0; i < query.hidden.length; i++) {
    if (!Number.isFinite(query.hidden[i]!)) throw invalidField(`hidden[${Math.floor(i / dim)}][${i % dim}]`, "is not a finite number");
  }
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
  return answerBytes({ rows: query.rows, topK, targets, draws: 0, labelBytes: labels?.maxBytes ?? 0 });
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

export async function runQuery(query: Query, topology: Topology, fanOut: Pick<FanOut, "partials">, limits: QueryLimits, deadline: Date, labels: Labels | null = null): Promise<Answer> {
  if (!topology.ready) throw new ShardmaxError(topology.code, topology.reason);
  const mislabeled = labelProblem(labels, topology.model);
  if (mislabeled) throw new ShardmaxError("MODEL_MISMATCH", mislabeled);
  checkQuery(query, topology.model, limits, labels?.maxBytes ?? 0);
  const routed = routeTargets(query.targets, query.rows, topology.map);
  const partials = await fanOut.partials(
    topology,
    { rows: query.rows, dim: query.dim, hidden: query.hidden, topK: query.topK, temperature: query.temperature, fingerprint: topology.model.fingerprint },
    routed,
    deadline,
  );
  return { model: topology.model, results: withLabels(mergePartials(topology.map, partials, query.topK, query.targets), labels) };
}
