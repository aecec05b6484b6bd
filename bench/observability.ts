/**
 * The observability point of the bench (`npm run bench -- --only observability`):
 * shardmax with 2 shards on the first head, batch-1 queries at 1 caller (p50
 * latency) and at 32 (rows/s), with metrics and traces off, metrics on
 * (gateway and shard --metrics-listen), and metrics plus traces on (every
 * process exporting to an OTLP/HTTP sink in this process). A variant needs its
 * own processes, so each round starts every variant in turn (alternation: the
 * machine drifts between minutes) and the overheads are medians of per-round ratios.
 */
import { createServer, type Server } from "node:http";
import type { LoadPoint } from "./plan.js";
import type { PointResult } from "./results.js";
import type { Observe } from "./systems.js";

export interface ObserveVariant {
  label: string;
  observe: (sink: string) => Observe;
}

export const OBSERVE_VARIANTS: ObserveVariant[] = [
  { label: "metrics off, traces off", observe: () => ({ metrics: false }) },
  { label: "metrics on", observe: () => ({ metrics: true }) },
  { label: "metrics + traces on", observe: (sink) => ({ metrics: true, otlpEndpoint: sink }) },
];

export const OBSERVE_POINTS: LoadPoint[] = [
  { rows: 1, concurrency: 1 },
  { rows: 1, concurrency: 32 },
];

export interface ObserveMeasurement {
  round: number;
  variant: string;
  result: PointResult;
}

/** An OTLP/HTTP sink: accepts every export and counts the bytes, so tracing pays its real export cost. */
export async function startTraceSink(): Promise<{ url: string; bytes: () => number; close(): void }> {
  let bytes = 0;
  const server: Server = createServer((request, response) => {
    request.on("data", (chunk: Buffer) => (bytes += chunk.length));
    request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1/traces`, bytes: () => bytes, close: () => server.close() };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per variant: median p50 at 1 caller, median rows/s at 32, and the median per-round change against "off". */
export function observeSection(measurements: readonly ObserveMeasurement[], command: string): string {
  const find = (round: number, variant: string, concurrency: number) =>
    measurements.find((m) => m.round === round && m.variant === variant && m.result.point.concurrency === concurrency)?.result.load;
  const rounds = [...new Set(measurements.map((m) => m.round))];
  const off = OBSERVE_VARIANTS[0]!.label;
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
  const rows = OBSERVE_VARIANTS.map(({ label }) => {
    const p50 = rounds.map((r) => find(r, label, 1)?.p50Ms ?? NaN);
    const rps = rounds.map((r) => find(r, label, 32)?.rowsPerS ?? NaN);
    const p50Change = rounds.map((r) => (find(r, label, 1)?.p50Ms ?? NaN) / (find(r, off, 1)?.p50Ms ?? NaN) - 1);
    const rpsChange = rounds.map((r) => (find(r, label, 32)?.rowsPerS ?? NaN) / (find(r, off, 32)?.rowsPerS ?? NaN) - 1);
    const vs = label === off ? "–" : `${pct(median(p50Change))} / ${pct(median(rpsChange))}`;
    return `| ${label} | ${median(p50).toFixed(2)} | ${Math.round(median(rps))} | ${vs} |`;
  });
  return [
    `Measured with \`${command}\`: ${rounds.length} round(s), medians over rounds.`,
    "",
    "| variant | c=1 p50 ms | rows/s at 32 callers | vs off: p50 / rows/s (median of per-round ratios) |",
    "|---|---:|---:|---:|",
    ...rows,
  ].join("\n");
}
