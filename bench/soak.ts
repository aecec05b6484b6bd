/**
 * `npm run bench -- --soak MINUTES`: a cluster of real processes (2 shards and
 * a gateway) under steady open-loop load at ~70% of the capacity measured
 * first, for MINUTES; half-way one shard is killed (SIGKILL) and started again
 * on its port. Every answer is checked against a float64 reference (queries
 * are rows of a pool whose reference is computed up front). Per window: RSS of
 * every process, p50/p99, answers, errors by code, wrong answers.
 */
import { ShardmaxClient } from "../sdk/index.js";
import { Cluster, rssMiB } from "./cluster.js";
import { hiddenPool, percentile, runLoad } from "./load.js";
import { type ReferenceRow, referenceRows } from "./reference.js";

export const SOAK_WEIGHTS = "builtin:65536x256";
const POOL_ROWS = 128;
const TOP_K = 5;
/** An answer further than this from float64 (log-prob or logZ), or with other top ids, is wrong. */
const WRONG_ABOVE = 1e-3;
const MAX_INFLIGHT = 256;

export interface SoakWindow {
  endS: number;
  answered: number;
  errors: Record<string, number>;
  wrong: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: Record<string, number>;
}

export interface SoakResult {
  command: string;
  weights: string;
  minutes: number;
  capacityRowsPerS: number;
  offeredRowsPerS: number;
  restart: { atS: number; downMs: number; shard: string };
  windows: SoakWindow[];
  maxError: number;
  totals: { answered: number; errors: number; wrong: number; dropped: number };
}

export async function runSoak(minutes: number, say: (line: string) => void): Promise<SoakResult> {
  const cluster = new Cluster({ weights: SOAK_WEIGHTS, shards: 2, threads: 1, security: "plaintext" });
  await cluster.start();
  try {
    const dim = 256;
    const pool = hiddenPool(dim, POOL_ROWS, 7);
    say(`soak: float64 reference of ${POOL_ROWS} rows…`);
    const refs = await referenceRows(SOAK_WEIGHTS, pool, POOL_ROWS, TOP_K);
    say("soak: measuring capacity (32 callers, 1-row queries)…");
    const capacity = await runLoad(cluster.grpcAddress, dim, pool, { rows: 1, concurrency: 32, warmupMs: 3000, measureMs: 10_000, topK: TOP_K });
    const rate = 0.7 * capacity.rowsPerS;
    say(`soak: capacity ${capacity.rowsPerS.toFixed(0)} rows/s; offering ${rate.toFixed(0)} rows/s for ${minutes} min`);
    return await steady(cluster, { minutes, rate, dim, pool, refs, capacity: capacity.rowsPerS }, say);
  } finally {
    await cluster.stop();
  }
}

interface SteadySpec {
  minutes: number;
  rate: number;
  dim: number;
  pool: Float32Array;
  refs: ReferenceRow[];
  capacity: number;
}

async function steady(cluster: Cluster, s: SteadySpec, say: (line: string) => void): Promise<SoakResult> {
  const client = new ShardmaxClient(cluster.grpcAddress, { defaultDeadlineMs: 10_000 });
  const durationMs = s.minutes * 60_000;
  const windowMs = Math.max(10_000, Math.min(60_000, durationMs / 20));
  const windows: SoakWindow[] = [];
  let current = { latencies: [] as number[], answered: 0, errors: {} as Record<string, number>, wrong: 0 };
  let maxError = 0;
  let sent = 0;
  let inflight = 0;
  let dropped = 0;
  const start = performance.now();
  let restart = { atS: NaN, downMs: NaN, shard: "shard 1/2" };
  let restarting: Promise<void> | null = null;

  const one = async (k: number) => {
    const row = k % POOL_ROWS;
    const hidden = s.pool.subarray(row * s.dim, (row + 1) * s.dim);
    const at = performance.now();
    inflight++;
    try {
      const answer = await client.query({ hidden, dim: s.dim, topK: TOP_K });
      const window = current;
      window.latencies.push(performance.now() - at);
      window.answered++;
      const ref = s.refs[row]!;
      const got = answer.results[0]!;
      let error = Math.abs(got.logZ - ref.logZ);
      for (const t of got.top) error = Math.max(error, Math.abs(t.logprob - (ref.logits[t.id]! - ref.logZ)));
      maxError = Math.max(maxError, error);
      if (error > WRONG_ABOVE || got.top.some((t, j) => t.id !== ref.topIds[j])) window.wrong++;
    } catch (err) {
      const code = (err as { code?: string }).code ?? "UNKNOWN";
      current.errors[code] = (current.errors[code] ?? 0) + 1;
    } finally {
      inflight--;
    }
  };

  const closeWindow = (now: number) => {
    const done = current;
    current = { latencies: [], answered: 0, errors: {}, wrong: 0 };
    const sorted = done.latencies.sort((a, b) => a - b);
    const rss = Object.fromEntries(cluster.pids().map(({ role, pid }) => [role, rssMiB(pid)]));
    const window = {
      endS: Math.round(now / 1000),
      answered: done.answered,
      errors: done.errors,
      wrong: done.wrong,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      rssMiB: rss,
    };
    windows.push(window);
    const rssText = Object.values(rss)
      .map((v) => v.toFixed(0))
      .join("/");
    say(
      `soak: ${window.endS} s  answered ${window.answered}  p50 ${window.p50Ms.toFixed(2)} ms  p99 ${window.p99Ms.toFixed(2)} ms  errors ${JSON.stringify(window.errors)}  wrong ${window.wrong}  RSS ${rssText} MiB`,
    );
  };
  while (performance.now() - start < durationMs) {
    const now = performance.now() - start;
    // Open loop: send what the rate says is due, whatever the answers do (bounded in flight).
    const due = Math.floor((now / 1000) * s.rate);
    for (; sent < due; sent++) {
      if (inflight >= MAX_INFLIGHT) dropped++;
      else void one(sent);
    }
    if (!restarting && now >= durationMs / 2) {
      restart.atS = now / 1000;
      say(`soak: ${restart.atS.toFixed(0)} s — killing ${restart.shard} (SIGKILL) and starting it again`);
      restarting = cluster.restartShard(1).then(({ downMs }) => {
        restart = { ...restart, downMs };
        say(`soak: ${restart.shard} serving again after ${downMs.toFixed(0)} ms`);
      });
    }
    if (now >= (windows.length + 1) * windowMs) closeWindow(now);
    await new Promise((r) => setTimeout(r, 5));
  }
  await restarting;
  while (inflight > 0) await new Promise((r) => setTimeout(r, 10));
  // The last, partial window (its answers came in after the loop's last tick).
  if (current.answered > 0 || Object.keys(current.errors).length > 0) closeWindow(performance.now() - start);
  client.close();
  const totals = windows.reduce(
    (t, w) => ({ answered: t.answered + w.answered, errors: t.errors + Object.values(w.errors).reduce((a, b) => a + b, 0), wrong: t.wrong + w.wrong, dropped }),
    { answered: 0, errors: 0, wrong: 0, dropped },
  );
  return {
    command: `npm run bench -- --soak ${s.minutes}`,
    weights: SOAK_WEIGHTS,
    minutes: s.minutes,
    capacityRowsPerS: s.capacity,
    offeredRowsPerS: s.rate,
    restart,
    windows,
    maxError,
    totals,
  };
}

/** The REPORT.md section: a table per window, and the drift from the first full window to the last. */
export function soakSection(r: SoakResult, loadAverage: string): string {
  const roles = Object.keys(r.windows[0]?.rssMiB ?? {});
  const head = `| end (s) | answered | p50 ms | p99 ms | errors | wrong | ${roles.map((role) => `RSS ${role} (MiB)`).join(" | ")} |`;
  const rule = `| ${["---", "---", "---", "---", "---", "---", ...roles.map(() => "---")].join(" | ")} |`;
  const rows = r.windows.map((w) => {
    const errors =
      Object.entries(w.errors)
        .map(([code, n]) => `${n} ${code}`)
        .join(", ") || "0";
    return `| ${w.endS} | ${w.answered} | ${w.p50Ms.toFixed(2)} | ${w.p99Ms.toFixed(2)} | ${errors} | ${w.wrong} | ${roles.map((role) => w.rssMiB[role]!.toFixed(1)).join(" | ")} |`;
  });
  const first = r.windows[1] ?? r.windows[0]!;
  const last = r.windows.at(-1)!;
  const drift = roles.map((role) => `${role} ${(last.rssMiB[role]! - first.rssMiB[role]!).toFixed(1)} MiB`).join(", ");
  return [
    `## Soak (\`${r.command}\`)`,
    "",
    `${r.minutes} minutes on ${r.weights} (2 shard processes, 1 gateway process, all on this machine), ` +
      `open-loop 1-row queries at ${r.offeredRowsPerS.toFixed(0)} rows/s, 70% of the ${r.capacityRowsPerS.toFixed(0)} rows/s measured with 32 callers just before. ` +
      `At ${r.restart.atS.toFixed(0)} s ${r.restart.shard} was killed (SIGKILL) and started again on its port: serving again after ${r.restart.downMs.toFixed(0)} ms ` +
      `(queries in that gap fail with UNAVAILABLE naming the range: one replica per range here). ` +
      `Every answer was checked against float64 (top-5 ids and log-probs, logZ): ${r.totals.wrong} wrong of ${r.totals.answered}, largest error ${r.maxError.toExponential(2)}; ` +
      `${r.totals.errors} errors; ${r.totals.dropped} queries not sent because 256 were already in flight. ` +
      `RSS from the second window to the last: ${drift}. Load average during the run: ${loadAverage} (the machine is shared).`,
    "",
    head,
    rule,
    ...rows,
    "",
  ].join("\n");
}
