/** The shapes the SDK takes and returns; identical to the REST API's JSON. */

export interface QueryInput {
  /** B rows of d numbers, or a row-major Float32Array of B×d (then `dim` is required). */
  hidden: Float32Array | number[][];
  dim?: number;
  /** How many classes to return per row, 0 … min(V, 1000); default 5. */
  topK?: number;
  /** Optional: one list of class ids per row whose log-probs to return. */
  targets?: number[][];
  /** > 0; default 1. */
  temperature?: number;
  /** Exact Gumbel-max draws per row (README: Sampling). */
  sample?: SampleInput;
}

export interface SampleInput {
  /** Draws per row, 1 … the gateway's --max-draws (64 by default). */
  n: number;
  /** 0 … 2^53 − 1 for the whole request (row r uses seed + r), or one per row; omitted, the gateway picks one. */
  seed?: number | number[];
  /** Restrict to the K most likely classes. */
  topK?: number;
  /** Then to the smallest set of most likely classes of mass ≥ topP, in (0, 1]. */
  topP?: number;
  /** Then to classes with p ≥ minP · p_max, in [0, 1). */
  minP?: number;
}

export interface SampledClass {
  id: number;
  label?: string;
  /** The temperature-scaled logit, as in `top`. */
  logit: number;
  /** log p in the tempered, unrestricted distribution. */
  logprob: number;
}

export interface QueryOptions {
  /** The call's deadline; the gateway also applies its own. */
  deadlineMs?: number;
}

export interface ModelRef {
  fingerprint: string;
  vocabSize: number;
  dim: number;
}

export interface ScoredClass {
  id: number;
  label?: string;
  /** The temperature-scaled logit z_i. */
  logit: number;
  /** z_i − logZ */
  logprob: number;
  prob: number;
}

export interface TargetScore {
  id: number;
  label?: string;
  logit: number;
  logprob: number;
}

export interface RowResult {
  logZ: number;
  top: ScoredClass[];
  targets: TargetScore[];
  /** When sampled: the row's seed (send it alone with this seed for the same draws) and its draws in order. */
  seed?: number;
  samples?: SampledClass[];
}

export interface QueryResult {
  model: ModelRef;
  results: RowResult[];
}

export interface ModelInfo {
  model: ModelRef | null;
  ready: boolean;
  reason: string;
  dtype: string;
  hasBias: boolean;
  maxTopK: number;
  maxRows: number;
  ranges: { start: number; end: number; replicas: { address: string; healthy: boolean; error: string }[] }[];
  /** Where result labels come from, or null when the gateway has none. */
  labels: { source: string; kind: "text" | "tokenizer.json"; count: number } | null;
}

export interface DistributionInput {
  /** B rows of d numbers, or a row-major Float32Array of B×d (then `dim` is required). */
  hidden: Float32Array | number[][];
  dim?: number;
  /** > 0; default 1. */
  temperature?: number;
}

/** Classes [start, start + logprobs.length) of one row: log p = z − logZ (−∞ for a class of probability 0). */
export interface DistributionChunk {
  row: number;
  start: number;
  logprobs: Float32Array;
  logZ: number;
}

/** One Float32Array of V log-probs per row, and each row's logZ. */
export interface DistributionRows {
  logZ: number[];
  rows: Float32Array[];
}
