/**
 * A/B of two builds of shardmax on this machine, in alternation (the machine
 * drifts by tens of percent between minutes): each round starts shardmax with
 * 2 shards from each build's own dist/ and measures batch-1 rows/s and p50 at
 * 1 and 32 callers with that build's own load generator.
 *
 *   node dist/bench/probes/compare-builds.js --base /path/to/other/checkout [--rounds 6] [--weights builtin:32768x512]
 *
 * The other checkout needs `npm ci && npx tsc -p .` (its dist/); prints one
 * JSON line per measurement and the medians.
 */
import { parseArgs } from "node:util";
import { packageRoot } from "../../shared/package-root.js";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "6" },
    weights: { type: "string", default: "builtin:32768x512" },
    "measure-ms": { type: "string", default: "3000" },
  },
});
if (!values.base) throw new Error("--base: the other checkout (built) to compare with");
const roots: Record<string, string> = { base: values.base, head: packageRoot() };
const [V, D] = values.weights!.replace("builtin:", "").split("x").map(Number) as [number, number];
const results: { name: string; concurrency: number; rowsPerS: number; p50Ms: number }[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const name of round % 2 === 0 ? ["base", "head"] : ["head", "base"]) {
    const { startSystem } = await import(`${roots[name]}/dist/bench/systems.js`);
    const { runLoad, hiddenPool } = await import(`${roots[name]}/dist/bench/load.js`);
    const { waitForQuiet } = await import(`${roots[name]}/dist/bench/cpu-share.js`);
    const system = await startSystem({ kind: "shardmax", shards: 2, threadsPerShard: 1 }, values.weights, V);
    for (const concurrency of [1, 32]) {
      await waitForQuiet(system.pids, 0.1, 1000, 60_000, () => {});
      const r = await runLoad(system.address, D, hiddenPool(D, 512), {
        rows: 1,
        concurrency,
        warmupMs: 1000,
        measureMs: Number(values["measure-ms"]),
        topK: 10,
      });
      results.push({ name, concurrency, rowsPerS: r.rowsPerS, p50Ms: r.p50Ms });
      console.log(JSON.stringify({ round, name, concurrency, rowsPerS: +r.rowsPerS.toFixed(1), p50Ms: +r.p50Ms.toFixed(2) }));
    }
    await system.stop();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const concurrency of [1, 32]) {
  for (const name of ["base", "head"]) {
    const mine = results.filter((r) => r.name === name && r.concurrency === concurrency);
    console.log(
      `${concurrency} caller(s), ${name}: median rows/s ${median(mine.map((r) => r.rowsPerS)).toFixed(1)}, median p50 ${median(mine.map((r) => r.p50Ms)).toFixed(2)} ms`,
    );
  }
}
process.exit(0);
