/**
 * Issue 15's head target, side by side in one run: A (one process, the whole
 * head, its gRPC Softmax Query driven through the SDK, as `npm run bench`
 * does) against C (shardmax, 2 shards of 1 thread + gateway) driven through
 * the SDK and through REST (/v1/softmax, keep-alive, the JSON body built per
 * request). Both systems stay up; every round measures batch-1 p50 at 1 caller
 * and rows/s at 32 callers on each of A, C-SDK, C-REST (the order reversed
 * every other round, the machine drifts between minutes), after waiting for
 * other processes to leave the CPU. Prints one JSON line per measurement, a
 * markdown table per round and the medians of the per-round ratios C / A.
 *
 *   node dist/bench/probes/single-vs-sharded.js [--rounds 4] [--weights builtin:131072x1024] [--warmup-ms 1500] [--measure-ms 5000]
 */
import { parseArgs } from "node:util";
import { ShardmaxClient } from "../../sdk/index.js";
import { cpuUse, foreignCpu, waitForQuiet } from "../cpu-share.js";
import { hiddenPool, type LoadResult, runCalls, runLoad } from "../load.js";
import { startSystem } from "../systems.js";
import { restSender } from "./latency-drivers.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "4" },
    weights: { type: "string", default: "builtin:131072x1024" },
    "warmup-ms": { type: "string", default: "1500" },
    "measure-ms": { type: "string", default: "5000" },
    "quiet-wait-ms": { type: "string", default: "20000" },
  },
});
const [V, D] = values.weights!.replace("builtin:", "").split("x").map(Number) as [number, number];
const window = { warmupMs: Number(values["warmup-ms"]), measureMs: Number(values["measure-ms"]) };
const TOP_K = 10;
const CALLERS = [1, 32] as const;
const pool = hiddenPool(D, 512);
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

type Door = "A · SDK" | "C · SDK" | "C · REST";
const DOORS: Door[] = ["A · SDK", "C · SDK", "C · REST"];

say(`starting A (1 process, 2 threads) and C (2 shards × 1 thread + gateway) on ${values.weights}…`);
const a = await startSystem({ kind: "single", threads: 2 }, values.weights!, V);
const c = await startSystem({ kind: "shardmax", shards: 2, threadsPerShard: 1 }, values.weights!, V).catch(async (err: unknown) => {
  await a.stop();
  throw err;
});
const rest = restSender(Number(c.httpAddress!.split(":").at(-1)), D, TOP_K);
const systemOf = (door: Door) => (door.startsWith("A") ? a : c);
const run = (door: Door, concurrency: number): Promise<LoadResult> => {
  const spec = { rows: 1, concurrency, ...window, topK: TOP_K };
  return door === "C · REST" ? runCalls(rest.send, D, pool, spec) : runLoad(systemOf(door).address, D, pool, spec);
};

interface Measurement {
  round: number;
  door: Door;
  concurrency: number;
  rowsPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Cores' worth of CPU over the run used by the system's processes and by this process (the callers); the share of all CPU others used. */
  serverCores: number;
  callerCores: number;
  foreignShare: number;
  errors: number;
}
const results: Measurement[] = [];

try {
  // The three doors should answer the same top-k for the same row (a near tie may swap two neighbours).
  const ids = async (door: Door) => {
    const hidden = pool.subarray(0, D);
    if (door === "C · REST") return ((await rest.send(hidden)) as { results: { top: { id: number }[] }[] }).results[0]!.top.map((t) => t.id);
    const client = new ShardmaxClient(systemOf(door).address, { defaultDeadlineMs: 60_000 });
    const answer = await client.query({ hidden, dim: D, topK: TOP_K }).finally(() => client.close());
    return answer.results[0]!.top.map((t) => t.id);
  };
  const tops = await Promise.all(DOORS.map(ids));
  if (tops.some((t) => t.join() !== tops[0]!.join())) say(`warning: the doors disagree on the top-${TOP_K} of row 0: ${JSON.stringify(tops)}`);

  const pids = () => [...a.pids(), ...c.pids()];
  for (let round = 1; round <= Number(values.rounds); round++) {
    const order = round % 2 === 1 ? DOORS : [...DOORS].reverse();
    for (const concurrency of CALLERS) {
      for (const door of order) {
        const seen = await waitForQuiet(pids, 0.1, 1000, Number(values["quiet-wait-ms"]), (share) =>
          say(`  others use ${(share * 100).toFixed(0)}% of the CPU, waiting…`),
        );
        const foreign = foreignCpu(pids);
        const cpu = cpuUse(systemOf(door).pids);
        const r = await run(door, concurrency);
        const cores = cpu();
        const m: Measurement = {
          round,
          door,
          concurrency,
          rowsPerS: r.rowsPerS,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          serverCores: cores.servers,
          callerCores: cores.loadGenerator,
          foreignShare: foreign(),
          errors: r.errors,
        };
        results.push(m);
        console.log(
          JSON.stringify({
            ...m,
            rowsPerS: +m.rowsPerS.toFixed(1),
            p50Ms: +m.p50Ms.toFixed(2),
            p99Ms: +m.p99Ms.toFixed(2),
            serverCores: +m.serverCores.toFixed(2),
            callerCores: +m.callerCores.toFixed(2),
            foreignShare: +m.foreignShare.toFixed(3),
            quietBefore: +seen.toFixed(3),
            ...(r.firstError ? { firstError: r.firstError } : {}),
          }),
        );
      }
    }
  }
} finally {
  rest.close();
  await Promise.all([a.stop(), c.stop()]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const at = (round: number, door: Door, concurrency: number) => results.find((r) => r.round === round && r.door === door && r.concurrency === concurrency)!;
const rounds = [...new Set(results.map((r) => r.round))];

const lines = [
  "| round | system · door | 1 caller: p50 ms | 1 caller: rows/s | 32 callers: rows/s | 32 callers: p50 ms | 32 callers: CPU cores, servers / callers | C / A: p50 at 1, rows/s at 32 |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const round of rounds) {
  for (const door of DOORS) {
    const one = at(round, door, 1);
    const many = at(round, door, 32);
    const base = [at(round, "A · SDK", 1), at(round, "A · SDK", 32)] as const;
    const ratio = door === "A · SDK" ? "" : `${(one.p50Ms / base[0].p50Ms).toFixed(2)}×, ${(many.rowsPerS / base[1].rowsPerS).toFixed(2)}×`;
    lines.push(
      `| ${round} | ${door} | ${one.p50Ms.toFixed(2)} | ${one.rowsPerS.toFixed(1)} | ${many.rowsPerS.toFixed(0)} | ${many.p50Ms.toFixed(1)} | ${many.serverCores.toFixed(2)} / ${many.callerCores.toFixed(2)} | ${ratio} |`,
    );
  }
}
lines.push("", "| door of C | p50 at 1 caller, C / A (median of rounds) | target ≤ 1.15× | rows/s at 32 callers, C / A (median of rounds) | target ≥ 8× |");
lines.push("| --- | --- | --- | --- | --- |");
for (const door of ["C · SDK", "C · REST"] as const) {
  const p50 = median(rounds.map((r) => at(r, door, 1).p50Ms / at(r, "A · SDK", 1).p50Ms));
  const rows = median(rounds.map((r) => at(r, door, 32).rowsPerS / at(r, "A · SDK", 32).rowsPerS));
  lines.push(`| ${door.slice(4)} | ${p50.toFixed(2)}× | ${p50 <= 1.15 ? "met" : "not met"} | ${rows.toFixed(2)}× | ${rows >= 8 ? "met" : "not met"} |`);
}
const worst = Math.max(...results.map((r) => r.foreignShare));
lines.push("", `Others' share of the CPU during the measurements: at most ${(worst * 100).toFixed(1)}%; errors: ${results.reduce((n, r) => n + r.errors, 0)}.`);
console.log(`\n${lines.join("\n")}`);
process.exit(0);
