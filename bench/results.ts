/** What a benchmark run produced: the data REPORT.md, the chart and results.json are made from. */
import type { CpuUse } from "./cpu-share.js";
import type { EventLoopResult } from "./event-loop.js";
import type { LoadResult } from "./load.js";
import type { Machine } from "./machine.js";
import type { LoadPoint } from "./plan.js";
import type { ErrorSummary } from "./reference.js";
import type { SamplingResult } from "./sampling.js";
import type { ProcessReport, SystemSpec } from "./systems.js";
import type { WireBytes } from "./wire.js";

export interface Timing {
  minMs: number;
  medianMs: number;
}

export interface HardwareResult {
  head: string;
  vocabSize: number;
  dim: number;
  weightBytes: number;
  stream: Timing;
  bandwidthBytesPerS: number;
  gemmN: number;
  square: Timing;
  gemmPeakFlops: number;
  threads: number;
  foreignCpu: number;
  kernels: { graph: "shard" | "gemm"; threads: number; batch: number; timing: Timing }[];
  /**
   * Per-round ratios measured in alternation (so both sides see the machine in the same state):
   * streaming the weights once ÷ a shard batch of 1, and a shard batch of `bigBatch` rows' GFLOP/s ÷ the square Gemm's.
   * Absent from results written before they were measured.
   */
  paired?: { bandwidth: number[]; gemm: number[]; bigBatch: number | null };
}

export interface PointResult {
  point: LoadPoint;
  load: LoadResult;
  /** Gateway ↔ shards bytes per answered row; null for A (no shards) or without `ss`. */
  wirePerRow: WireBytes | null;
  /** Cores' worth of CPU the system's processes and the load generator used during the measurement (warm-up included). */
  cpuCores: CpuUse;
  /** Share of all CPU time used by processes outside the benchmark during the measurement. */
  foreignCpu: number;
  /** Measurements thrown away because others used too much CPU meanwhile. */
  retries: number;
}

export interface SystemResult {
  head: string;
  label: string;
  spec: SystemSpec;
  startupS: number;
  points: PointResult[];
  processes: ProcessReport[];
  accuracy: ErrorSummary;
}

export interface TuningResult {
  label: string;
  points: PointResult[];
  processes: ProcessReport[];
}

/** One round of the paired comparison: A, then C (2 shards), at one point. */
export interface PairedRound {
  point: LoadPoint;
  a: PointResult;
  c: PointResult;
}

/** The full distribution's throughput (bench/distribution.ts) on one head. */
export interface DistributionResult {
  head: string;
  label: string;
  /** Rows per request; each row is V float32 log-probs. */
  rows: number;
  vocabSize: number;
  requests: number;
  /** Log-prob bytes received by the client in the window. */
  bytes: number;
  seconds: number;
  bytesPerS: number;
  p50Ms: number;
  /** The head's measured memory bandwidth (HardwareResult), to compare with. */
  bandwidthBytesPerS: number;
  foreignCpu: number;
}

export interface BenchResults {
  plan: "full" | "quick";
  command: string;
  startedAt: string;
  durationS: number;
  machine: Machine;
  loadAverage: { start: number; end: number };
  topK: number;
  hardware: HardwareResult[];
  eventLoop: EventLoopResult[];
  systems: SystemResult[];
  tuning: TuningResult[];
  paired: PairedRound[];
  /** Absent from results written before it was measured. */
  distribution?: DistributionResult[];
  /** Absent from results written before it was measured. */
  sampling?: SamplingResult[];
}
