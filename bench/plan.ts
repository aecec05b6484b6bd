/**
 * What a run measures. The full plan is the issue's: two 512 MiB F32 heads
 * (an LLM head 131072 × 1024 and a recommendation head 1048576 × 128),
 * systems A, B (2 shards) and C (1, 2, 4 shards); batch-1 requests at
 * concurrency 1…32 and batch-32 requests at concurrency 4. `--quick` keeps
 * the shape on 64 MiB heads with shorter windows.
 */
import type { LoadSpec } from "./load.js";
import type { SystemSpec } from "./systems.js";

export interface HeadPlan {
  name: string;
  weights: string;
  vocabSize: number;
  dim: number;
}

export interface LoadPoint {
  rows: number;
  concurrency: number;
}

export interface TuningVariant {
  label: string;
  spec: SystemSpec;
}

export interface Plan {
  name: "full" | "quick";
  heads: HeadPlan[];
  systems: (cores: number) => SystemSpec[];
  points: LoadPoint[];
  window: Pick<LoadSpec, "warmupMs" | "measureMs">;
  topK: number;
  /** Rows checked against the float64 reference, per head and system. */
  sampleRows: number;
  kernelBatches: number[];
  kernelRepeat: number;
  gemmN: number;
  eventLoop: { head: HeadPlan; concurrency: number; measureMs: number };
  /** Batching and thread variants of C (2 shards) on the first head; empty in quick runs. */
  tuning: (cores: number) => TuningVariant[];
  tuningPoints: LoadPoint[];
  /**
   * The target ratios compare A with C (2 shards) on the first head. The machine's speed drifts by tens of
   * percent over minutes (other VMs share its memory bus), so these points are also measured in alternation,
   * A then C, for a few rounds with both systems up, and the ratios are taken per round.
   */
  paired: { points: LoadPoint[]; rounds: number };
  /** How long to wait for other processes to go quiet before a measurement, and how often to repeat a disturbed one. */
  quietWaitMs: number;
  /** Each quiet check watches the CPU for this long. */
  quietWindowMs: number;
  retries: number;
}

const head = (name: string, vocabSize: number, dim: number): HeadPlan => ({ name, weights: `builtin:${vocabSize}x${dim}`, vocabSize, dim });
const perShard = (cores: number, shards: number) => Math.max(1, Math.floor(cores / shards));

const systems = (cores: number): SystemSpec[] => [
  { kind: "single", threads: cores },
  { kind: "gather", shards: 2, threadsPerShard: perShard(cores, 2) },
  ...[1, 2, 4].map((shards): SystemSpec => ({ kind: "shardmax", shards, threadsPerShard: perShard(cores, shards) })),
];

const batch1 = (concurrency: number[]): LoadPoint[] => concurrency.map((c) => ({ rows: 1, concurrency: c }));

export const FULL: Plan = {
  name: "full",
  heads: [head("LLM head", 131072, 1024), head("recommendation head", 1048576, 128)],
  systems,
  points: [...batch1([1, 2, 4, 8, 16, 32]), { rows: 32, concurrency: 4 }],
  window: { warmupMs: 1500, measureMs: 5000 },
  topK: 10,
  sampleRows: 8,
  kernelBatches: [1, 8, 32, 64, 128, 256],
  kernelRepeat: 7,
  gemmN: 2048,
  eventLoop: { head: head("LLM head", 131072, 1024), concurrency: 32, measureMs: 5000 },
  tuning: (cores) => [
    ...[
      [128, 0],
      [32, 0],
      [128, 3000],
    ].map(
      ([rows, delay]): TuningVariant => ({
        label: `--max-batch-rows ${rows} --max-queue-delay-us ${delay}`,
        spec: { kind: "shardmax", shards: 2, threadsPerShard: perShard(cores, 2), maxBatchRows: rows, maxQueueDelayUs: delay },
      }),
    ),
    { label: `--threads ${cores} on each of 2 shards`, spec: { kind: "shardmax", shards: 2, threadsPerShard: cores } },
  ],
  tuningPoints: [...batch1([4, 32]), { rows: 32, concurrency: 4 }],
  paired: { points: batch1([1, 32]), rounds: 3 },
  quietWaitMs: 300_000,
  quietWindowMs: 1500,
  retries: 2,
};

export const QUICK: Plan = {
  ...FULL,
  name: "quick",
  heads: [head("LLM-shaped head", 32768, 512), head("recommendation-shaped head", 262144, 64)],
  points: [...batch1([1, 32]), { rows: 32, concurrency: 4 }],
  window: { warmupMs: 300, measureMs: 1200 },
  sampleRows: 4,
  kernelBatches: [1, 64],
  kernelRepeat: 3,
  gemmN: 1024,
  eventLoop: { head: head("LLM-shaped head", 32768, 512), concurrency: 32, measureMs: 1500 },
  tuning: () => [],
  paired: { points: batch1([1, 32]), rounds: 1 },
  quietWaitMs: 1000,
  quietWindowMs: 300,
  retries: 0,
};
