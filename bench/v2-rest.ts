/**
 * The Open Inference Protocol point of the bench: on one running shardmax
 * system, batch-1 queries over REST as `/v1/softmax` JSON and as
 * `/v2/models/shardmax/infer` with the binary extension (FP32 input bytes,
 * binary outputs), at 1 and 32 callers, in alternation for a few rounds
 * (the machine drifts between minutes, so each round compares the two
 * doors minutes apart at most). Both answer the same top-k; the first answer
 * of each door is compared before measuring.
 */
import { percentile } from "./load.js";
import type { LoadPoint } from "./plan.js";

export type RestDoor = "v1 JSON" | "v2 binary";
export const REST_DOORS: RestDoor[] = ["v1 JSON", "v2 binary"];
export const V2_POINTS: LoadPoint[] = [
  { rows: 1, concurrency: 1 },
  { rows: 1, concurrency: 32 },
];

export interface RestPointResult {
  round: number;
  door: RestDoor;
  point: LoadPoint;
  rowsPerS: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** One request through a door: the top ids of its one row. */
export function restSender(httpAddress: string, door: RestDoor, dim: number, topK: number): (hidden: Float32Array) => Promise<number[]> {
  if (door === "v1 JSON") {
    return async (hidden) => {
      const res = await fetch(`http://${httpAddress}/v1/softmax`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hidden: [Array.from(hidden)], topK }),
      });
      if (res.status !== 200) throw new Error(`v1: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { results: { top: { id: number }[] }[] };
      return body.results[0]!.top.map((t) => t.id);
    };
  }
  return async (hidden) => {
    const header = Buffer.from(
      JSON.stringify({
        parameters: { top_k: topK, binary_data_output: true },
        inputs: [{ name: "hidden", datatype: "FP32", shape: [1, dim], parameters: { binary_data_size: hidden.byteLength } }],
        outputs: [{ name: "top_ids" }, { name: "top_logprobs" }],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(hidden.buffer, hidden.byteOffset, hidden.byteLength)]);
    const res = await fetch(`http://${httpAddress}/v2/models/shardmax/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      body,
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`v2: ${res.status} ${bytes.toString("utf8", 0, 300)}`);
    const at = Number(res.headers.get("inference-header-content-length"));
    return Array.from({ length: topK }, (_, i) => Number(bytes.readBigInt64LE(at + 8 * i)));
  };
}

/** Closed-loop callers for a warm-up and then a measured window: rows/s and latency of what completes inside it. */
export async function restLoad(
  send: (hidden: Float32Array) => Promise<unknown>,
  pool: Float32Array,
  dim: number,
  point: LoadPoint,
  window: { warmupMs: number; measureMs: number },
): Promise<Omit<RestPointResult, "round" | "door" | "point">> {
  const poolRows = pool.length / dim;
  const start = performance.now();
  const from = start + window.warmupMs;
  const end = from + window.measureMs;
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const caller = async () => {
    while (performance.now() < end) {
      const first = (next++ * point.rows) % (poolRows - point.rows + 1);
      const sent = performance.now();
      try {
        await send(pool.subarray(first * dim, (first + point.rows) * dim));
      } catch {
        errors++;
        continue;
      }
      const done = performance.now();
      if (sent >= from && done <= end) latencies.push(done - sent);
    }
  };
  await Promise.all(Array.from({ length: point.concurrency }, caller));
  latencies.sort((a, b) => a - b);
  const rowsPerS = (latencies.length * point.rows * 1000) / window.measureMs;
  return { rowsPerS, requests: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per point: each door's median p50 and rows/s over rounds, and the median per-round ratio v2 / v1. */
export function restSummary(results: RestPointResult[]): string {
  const lines = ["| point | door | p50 ms (median of rounds) | rows/s (median) | v2 / v1 per round (median): p50, rows/s |", "| --- | --- | --- | --- | --- |"];
  for (const point of V2_POINTS) {
    const at = results.filter((r) => r.point.concurrency === point.concurrency && r.point.rows === point.rows);
    const rounds = [...new Set(at.map((r) => r.round))];
    const of = (round: number, door: RestDoor) => at.find((r) => r.round === round && r.door === door)!;
    const ratio = (key: "p50Ms" | "rowsPerS") => median(rounds.map((round) => of(round, "v2 binary")[key] / of(round, "v1 JSON")[key]));
    for (const door of REST_DOORS) {
      const mine = at.filter((r) => r.door === door);
      const ratios = door === "v2 binary" ? `${ratio("p50Ms").toFixed(2)}×, ${ratio("rowsPerS").toFixed(2)}×` : "";
      const where = `batch ${point.rows}, ${point.concurrency} caller${point.concurrency > 1 ? "s" : ""}`;
      lines.push(`| ${where} | ${door} | ${median(mine.map((m) => m.p50Ms)).toFixed(2)} | ${median(mine.map((m) => m.rowsPerS)).toFixed(0)} | ${ratios} |`);
    }
  }
  return lines.join("\n");
}
