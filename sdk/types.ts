/** The shapes the SDK takes and returns; identical to the REST API's JSON. */
export type { DistributionChunk, ModelInfo, ModelRef, QueryResult, RowResult, SampledClass, ScoredClass, TargetScore } from "../shared/results.js";

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

export interface QueryOptions {
  /** The call's deadline; the gateway also applies its own. */
  deadlineMs?: number;
}

export interface DistributionInput {
  /** B rows of d numbers, or a row-major Float32Array of B×d (then `dim` is required). */
  hidden: Float32Array | number[][];
  dim?: number;
  /** > 0; default 1. */
  temperature?: number;
}

/** One Float32Array of V log-probs per row, and each row's logZ. */
export interface DistributionRows {
  logZ: number[];
  rows: Float32Array[];
}
