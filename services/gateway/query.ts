/**
 * A query as the gateway runs it, whichever door it came in by (REST or gRPC):
 * checked against the model, targets routed to their ranges, fanned out,
 * merged into exact results. Every refusal names the field and the reason.
 */
import { ShardmaxError, invalidField } from "../../shared/errors.js";
import { mergePartials } from "../../shared/math/merge.js";
import { routeTargets } from "../../shared/math/targets.js";
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
}

export const DEFAULT_TOP_K = 5;

export interface Answer {
  model: ModelRef;
  results: LabeledRowResult[];
}

export function checkQuery(query: Query, model: ModelRef, limits: QueryLimits): void {
  const { rows, dim } = query;
  if (rows < 1) throw invalidField("hidden", "is empty: send at least one row");
  if (rows > limits.maxRows) throw new ShardmaxError("RESOURCE_EXHAUSTED", `hidden: ${rows} rows is over the limit of ${limits.maxRows} per request`);
  if (dim !== model.dim) throw invalidField("hidden", `rows have ${dim} numbers, the model has d=${model.dim}`);
  for (let i = 0; i < query.hidden.length; i++) {
    if (!Number.isFinite(query.hidden[i]!)) throw invalidField(`hidden[${Math.floor(i / dim)}][${i % dim}]`, "is not a finite number");
  }
  const maxTopK = Math.min(model.vocabSize, limits.maxTopK);
  if (!Number.isInteger(query.topK) || query.topK < 0 || query.topK > maxTopK) {
    throw invalidField("topK", `must be an integer from 0 to ${maxTopK}, got ${query.topK}`);
  }
  if (!Number.isFinite(query.temperature) || query.temperature <= 0) {
    throw invalidField("temperature", `must be a finite number > 0, got ${query.temperature}`);
  }
  if (query.targets.length > 0 && query.targets.length !== rows) {
    throw invalidField("targets", `must be one list per row: ${query.targets.length} lists for ${rows} rows`);
  }
  query.targets.forEach((list, row) => {
    if (list.length > limits.maxTargetsPerRow) throw invalidField(`targets[${row}]`, `has ${list.length} ids, the limit is ${limits.maxTargetsPerRow}`);
    list.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
        throw invalidField(`targets[${row}][${j}]`, `class id ${id} is outside [0, ${model.vocabSize})`);
      }
    });
  });
}

export async function runQuery(query: Query, topology: Topology, fanOut: Pick<FanOut, "partials">, limits: QueryLimits, deadline: Date, labels: Labels | null = null): Promise<Answer> {
  if (!topology.ready) throw new ShardmaxError(topology.code, topology.reason);
  const mislabeled = labelProblem(labels, topology.model);
  if (mislabeled) throw new ShardmaxError("MODEL_MISMATCH", mislabeled);
  checkQuery(query, topology.model, limits);
  const routed = routeTargets(query.targets, query.rows, topology.map);
  const partials = await fanOut.partials(
    topology,
    { rows: query.rows, dim: query.dim, hidden: query.hidden, topK: query.topK, temperature: query.temperature, fingerprint: topology.model.fingerprint },
    routed,
    deadline,
  );
  return { model: topology.model, results: withLabels(mergePartials(topology.map, partials, query.topK, query.targets), labels) };
}
