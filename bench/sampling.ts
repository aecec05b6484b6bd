/**
 * The sampling point of the bench: shardmax with 2 shards on the first head,
 * batch-1 queries at 1 and at 32 callers, each measured without sampling,
 * with `sample: {n: 1}` and with `sample: {n: 1, topP: 0.9}`, in alternation
 * for a few rounds (the machine drifts between minutes, so ratios are taken
 * per round), plus the bytes on the wire per sampled row against what
 * gathering the logits would move (4·V bytes per row from the shards).
 */
import type { SampleInput } from "../sdk/index.js";
import type { LoadPoint } from "./plan.js";
import type { PointResult } from "./results.js";

export interface SamplingVariant {
  label: string;
  sample: SampleInput | null;
}

export const SAMPLING_VARIANTS: SamplingVariant[] = [
  { label: "no sampling", sample: null },
  { label: "sample {n: 1}", sample: { n: 1 } },
  { label: "sample {n: 1, topP: 0.9}", sample: { n: 1, topP: 0.9 } },
];

export const SAMPLING_POINTS: LoadPoint[] = [
  { rows: 1, concurrency: 1 },
  { rows: 1, concurrency: 32 },
];

export interface SamplingMeasurement {
  round: number;
  variant: string;
  result: PointResult;
}

export interface SamplingResult {
  head: string;
  label: string;
  vocabSize: number;
  measurements: SamplingMeasurement[];
}

/** Every variant at every point, round after round, in alternation. */
export async function samplingRounds(
  rounds: number,
  measure: (variant: SamplingVariant, point: LoadPoint, round: number) => Promise<PointResult>,
): Promise<SamplingMeasurement[]> {
  const out: SamplingMeasurement[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const point of SAMPLING_POINTS) {
      for (const variant of SAMPLING_VARIANTS) out.push({ round, variant: variant.label, result: await measure(variant, point, round) });
    }
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per point and variant: the median over rounds of the per-round ratio to "no sampling", for p50 latency and rows/s. */
export function samplingSummary(
  result: SamplingResult,
): { point: LoadPoint; variant: string; p50Ms: number; rowsPerS: number; p50Ratio: number; rowsRatio: number; wireFromShards: number | null }[] {
  const rows = [];
  for (const point of SAMPLING_POINTS) {
    const at = result.measurements.filter((m) => m.result.point.rows === point.rows && m.result.point.concurrency === point.concurrency);
    const base = new Map(at.filter((m) => m.variant === SAMPLING_VARIANTS[0]!.label).map((m) => [m.round, m.result]));
    for (const variant of SAMPLING_VARIANTS) {
      const mine = at.filter((m) => m.variant === variant.label);
      const ratios = mine.map((m) => ({
        p50: m.result.load.p50Ms / base.get(m.round)!.load.p50Ms,
        rows: m.result.load.rowsPerS / base.get(m.round)!.load.rowsPerS,
      }));
      const wires = mine.map((m) => m.result.wirePerRow?.fromShards).filter((w): w is number => w !== undefined);
      rows.push({
        point,
        variant: variant.label,
        p50Ms: median(mine.map((m) => m.result.load.p50Ms)),
        rowsPerS: median(mine.map((m) => m.result.load.rowsPerS)),
        p50Ratio: median(ratios.map((r) => r.p50)),
        rowsRatio: median(ratios.map((r) => r.rows)),
        wireFromShards: wires.length > 0 ? median(wires) : null,
      });
    }
  }
  return rows;
}
