/**
 * The answer types, defined once: what the gateway's core returns, what REST
 * /v1 and the SDK show (identical JSON), and what the merge produces
 * (without labels). The gRPC messages carry the same fields (softmax.proto).
 */

export interface ModelRef {
  fingerprint: string;
  vocabSize: number;
  dim: number;
}

export interface ScoredClass {
  id: number;
  /** Present with --labels (left out when empty, as proto3 leaves it out of gRPC). */
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

/** One draw: the class and what it scores in the tempered, unrestricted distribution. */
export interface SampledClass {
  id: number;
  label?: string;
  /** The temperature-scaled logit, as in `top`. */
  logit: number;
  /** log p in the tempered, unrestricted distribution. */
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

export type LabelsKind = "text" | "tokenizer.json";

/** GET /v1/model and Softmax.Info: the model, readiness, and the shard map. */
export interface ModelInfo {
  model: ModelRef | null;
  ready: boolean;
  reason: string;
  dtype: string;
  hasBias: boolean;
  maxTopK: number;
  maxRows: number;
  ranges: { start: number; end: number; replicas: { address: string; healthy: boolean; error: string | null }[] }[];
  /** Where result labels come from, or null when the gateway has none. */
  labels: { source: string; kind: LabelsKind; count: number } | null;
}

/** Classes [start, start + logprobs.length) of one row: log p = z − logZ (−∞ for a class of probability 0). */
export interface DistributionChunk {
  row: number;
  start: number;
  logprobs: Float32Array;
  logZ: number;
}
