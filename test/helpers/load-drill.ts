/**
 * A bounded stream of queries with a fixed number in flight, every answer
 * checked against a precomputed float64 reference, and an action fired after
 * a given number were sent (kill a replica, stop one …). It records what a
 * failover note needs: sent, failed, wrong, and latency percentiles before
 * and after the action.
 */
import { type Head, logZTolerance, type ReferenceRow, referenceSoftmax } from "./reference-softmax.js";

export interface DrillOptions {
  queries: number;
  concurrency: number;
  /** Fired once, after this many queries were sent; the drill goes on meanwhile. */
  actAfter?: number;
  action?: () => void | Promise<void>;
}

export interface DrillResult {
  sent: number;
  failed: number;
  wrong: number;
  /** Failed answers: status and error code, for the assertion message. */
  failures: string[];
  /** Latencies (ms) of queries answered before the action, and of those in flight or sent from it on. */
  before: number[];
  after: number[];
}

export class ReferenceRows {
  readonly refs: ReferenceRow[];
  constructor(
    readonly head: Head,
    readonly rows: number[][],
    readonly topK: number,
  ) {
    this.refs = referenceSoftmax(head, rows, topK);
  }

  /** An answer for row r is right when its top-k ids and logZ match the float64 softmax. */
  check(r: number, result: { logZ: number; top: { id: number }[] }): boolean {
    const ref = this.refs[r]!;
    return Math.abs(result.logZ - ref.logZ) <= logZTolerance(ref) && result.top.map((t) => t.id).join() === ref.topIds.join();
  }
}

export async function drill(url: string, reference: ReferenceRows, options: DrillOptions): Promise<DrillResult> {
  const result: DrillResult = { sent: 0, failed: 0, wrong: 0, failures: [], before: [], after: [] };
  let actedAt = Infinity;
  const one = async (n: number) => {
    if (actedAt === Infinity && options.action && n >= (options.actAfter ?? 0)) {
      actedAt = performance.now();
      void options.action();
    }
    const r = n % reference.rows.length;
    const started = performance.now();
    result.sent++;
    const done = () => {
      // A query still in flight when the action fired counts as "after": it is the one that has to fail over.
      const ms = performance.now() - started;
      (performance.now() < actedAt ? result.before : result.after).push(ms);
    };
    try {
      const res = await fetch(`${url}/v1/softmax`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ hidden: [reference.rows[r]], topK: reference.topK }),
      });
      const body = (await res.json()) as { results?: { logZ: number; top: { id: number }[] }[]; error?: { code: string; message: string } };
      done();
      if (res.status !== 200) {
        result.failed++;
        result.failures.push(`${res.status} ${body.error?.code}: ${body.error?.message}`);
      } else if (!reference.check(r, body.results![0]!)) result.wrong++;
    } catch (err) {
      done();
      result.failed++;
      result.failures.push(String(err));
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.queries) await one(next++);
    }),
  );
  return result;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One line of the failover table; `retried` and `addedMs` are the gateway's counts over the drill. */
export function summary(name: string, r: DrillResult, retried: number, addedMs: number): string {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");
  return [
    name.padEnd(34),
    `sent ${r.sent}`.padEnd(10),
    `failed ${r.failed}`.padEnd(10),
    `wrong ${r.wrong}`.padEnd(9),
    `retried ${retried}`.padEnd(12),
    `+${retried ? (addedMs / retried).toFixed(1) : "0"} ms/retry`.padEnd(16),
    `p50/p99 before ${ms(percentile(r.before, 50))}/${ms(percentile(r.before, 99))} ms`.padEnd(30),
    `after ${ms(percentile(r.after, 50))}/${ms(percentile(r.after, 99))} ms, max ${ms(Math.max(...r.after))} ms`,
  ].join(" ");
}
