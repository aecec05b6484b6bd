/**
 * `npm run bench [-- --quick] [-- --out DIR] [-- --only distribution]`: measures, side by side in one
 * run on this machine, one process holding the whole head (A), "gather all
 * logits" sharding (B) and shardmax with 1, 2 and 4 shards (C), plus the
 * hardware bound and the event loop of a shard under load; writes REPORT.md,
 * results.json and the rows/s chart (SVG and PNG). Everything runs one thing
 * at a time, so the systems never compete with each other for the cores.
 * `--only distribution` runs just the full-distribution point (and the
 * bandwidth it is compared with) and writes results.json to bench/work/distribution;
 * `--only sampling` runs just the sampling point (bench/sampling.ts) and writes
 * results.json and SAMPLING.md to bench/work/sampling; `--only v2` runs just the
 * Open Inference Protocol point (bench/v2-rest.ts) into bench/work/v2;
 * `--only observability` runs just the metrics/traces overhead point (bench/observability.ts)
 * and writes results.json and OBSERVABILITY.md to bench/work/observability.
 * results.json and SAMPLING.md to bench/work/sampling;
 * `--only tls` the cost of TLS and mutual TLS (bench/tls-cost.ts), TLS.md to bench/work/tls;
 * `--soak MINUTES` the soak (bench/soak.ts), SOAK.md to bench/work/soak.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import type { SampleInput } from "../sdk/index.js";
import { ShardmaxClient } from "../sdk/index.js";
import { packageRoot } from "../shared/package-root.js";
import { chartPng, chartSvg } from "./chart.js";
import { BenchChild } from "./child-process.js";
import { cpuUse, foreignCpu, waitForQuiet } from "./cpu-share.js";
import { measureDistribution } from "./distribution.js";
import { measureEventLoop } from "./event-loop.js";
import { hiddenPool, runLoad } from "./load.js";
import { describeMachine, loadAverage } from "./machine.js";
import { OBSERVE_POINTS, OBSERVE_VARIANTS, type ObserveMeasurement, observeSection, startTraceSink } from "./observability.js";
import { FULL, type HeadPlan, type LoadPoint, type Plan, QUICK } from "./plan.js";
import { compareToReference, type ReferenceRow, referenceRows } from "./reference.js";
import { renderReport, samplingSection } from "./report.js";
import type { BenchResults, DistributionResult, HardwareResult, PairedRound, PointResult, SystemResult, TuningResult } from "./results.js";
import { SAMPLING_VARIANTS, type SamplingResult, samplingRounds } from "./sampling.js";
import { runSoak, soakSection } from "./soak.js";
import { type RunningSystem, type SystemSpec, startSystem, systemLabel } from "./systems.js";
import { runTlsCost, tlsSection } from "./tls-cost.js";
import { REST_DOORS, type RestPointResult, restLoad, restSender, restSummary, V2_POINTS } from "./v2-rest.js";
import { wireCounters, wireDelta } from "./wire.js";

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, out: { type: "string" }, only: { type: "string" }, soak: { type: "string" } },
  allowPositionals: false,
});
const ALONE = ["distribution", "sampling", "v2", "observability", "tls"];
if (values.only !== undefined && !ALONE.includes(values.only)) throw new Error(`--only: "${values.only}" is not a part that runs alone (${ALONE.join(", ")})`);
const onlyDistribution = values.only === "distribution";
const onlySampling = values.only === "sampling";
const plan: Plan = values.quick ? QUICK : FULL;
const root = packageRoot();
const outDir = values.out ?? join(root, "bench", ...(values.only ? ["work", values.only] : values.quick ? ["work", "quick"] : []));
mkdirSync(outDir, { recursive: true });

const started = Date.now();
const say = (line: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const machine = describeMachine();
const cores = machine.cores;
const POOL_ROWS = 512;
/** Others may use this much of the CPU during a measurement; above it the measurement is repeated. */
const QUIET_SHARE = 0.1;

const pct = (share: number) => `${Math.round(100 * share)}%`;

/** Before measuring, wait (a while) for other users of the machine to go quiet. */
async function quiet(pids: () => readonly number[]): Promise<void> {
  await waitForQuiet(pids, QUIET_SHARE, plan.quietWindowMs, plan.quietWaitMs, (seen) => say(`  waiting: other processes use ${pct(seen)} of the CPU`));
}

/** Runs `measure` until others used at most QUIET_SHARE of the CPU meanwhile (or retries run out); keeps the least disturbed run. */
async function undisturbed<T>(pids: () => readonly number[], measure: () => Promise<T>): Promise<{ value: T; foreignCpu: number; retries: number }> {
  let best: { value: T; foreignCpu: number; retries: number } | null = null;
  for (let attempt = 0; attempt <= plan.retries; attempt++) {
    await quiet(pids);
    const others = foreignCpu(pids);
    const value = await measure();
    const share = others();
    if (!best || share < best.foreignCpu) best = { value, foreignCpu: share, retries: attempt };
    if (!(share > QUIET_SHARE)) break;
    if (attempt < plan.retries) say(`  others used ${pct(share)} of the CPU during that measurement: repeating it`);
  }
  return best!;
}

async function hardware(head: HeadPlan): Promise<HardwareResult> {
  say(`${head.name}: measuring memory bandwidth, GEMM peak and one shard batch (batches ${plan.kernelBatches.join(", ")})…`);
  const threads = [...new Set([1, cores])].join(",");
  let probe: BenchChild | null = null;
  const { value, foreignCpu: share } = await undisturbed(
    () => (probe ? [probe.pid] : []),
    async () => {
      probe = new BenchChild("hardware probe", join(root, "dist", "bench", "probes", "hardware.js"), [
        "--weights",
        head.weights,
        "--batches",
        plan.kernelBatches.join(","),
        "--threads",
        threads,
        "--repeat",
        `${plan.kernelRepeat}`,
        "--gemm-n",
        `${plan.gemmN}`,
      ]);
      const result = (await probe.next("result")) as unknown as Omit<HardwareResult, "head" | "foreignCpu">;
      await probe.stop();
      return result;
    },
  );
  say(
    `  bandwidth ${(value.bandwidthBytesPerS / 1e9).toFixed(1)} GB/s, GEMM peak ${(value.gemmPeakFlops / 1e9).toFixed(1)} GFLOP/s (others used ${pct(share)} of the CPU)`,
  );
  return { ...value, head: head.name, foreignCpu: share };
}

async function measurePoint(
  system: RunningSystem,
  head: HeadPlan,
  pool: Float32Array,
  point: LoadPoint,
  label: string,
  sample?: SampleInput,
): Promise<PointResult> {
  const {
    value,
    foreignCpu: share,
    retries,
  } = await undisturbed(system.pids, async () => {
    const before = await wireCounters(system.shardPorts);
    const cpu = cpuUse(system.pids);
    const load = await runLoad(system.address, head.dim, pool, { ...point, ...plan.window, topK: plan.topK, ...(sample ? { sample } : {}) });
    const cpuCores = cpu();
    const after = await wireCounters(system.shardPorts);
    return { load, cpuCores, delta: system.shardPorts.length > 0 ? wireDelta(before, after) : null };
  });
  const { load, delta, cpuCores } = value;
  const wirePerRow = delta && load.rowsTotal > 0 ? { toShards: delta.toShards / load.rowsTotal, fromShards: delta.fromShards / load.rowsTotal } : null;
  say(
    `  ${label} · ${point.rows} row${point.rows === 1 ? "" : "s"} × ${point.concurrency} caller${point.concurrency === 1 ? "" : "s"}: ${Math.round(load.rowsPerS)} rows/s, p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms` +
      (wirePerRow ? `, wire ${Math.round(wirePerRow.toShards)} → / ${Math.round(wirePerRow.fromShards)} ← B/row` : "") +
      (load.errors ? `, ${load.errors} errors (${load.firstError})` : "") +
      (share > 0.02 ? ` (others used ${pct(share)} of the CPU)` : ""),
  );
  return { point, load, wirePerRow, cpuCores, foreignCpu: share, retries };
}

async function measureSystem(spec: SystemSpec, head: HeadPlan, pool: Float32Array, refs: ReferenceRow[]): Promise<SystemResult> {
  const label = systemLabel(spec);
  say(`${head.name} · ${label}: starting…`);
  const t0 = Date.now();
  const system = await startSystem(spec, head.weights, head.vocabSize);
  const startupS = (Date.now() - t0) / 1000;
  try {
    const points: PointResult[] = [];
    for (const point of plan.points) points.push(await measurePoint(system, head, pool, point, label));
    const client = new ShardmaxClient(system.address, { defaultDeadlineMs: 120_000 });
    const answer = await client.query({ hidden: pool.subarray(0, plan.sampleRows * head.dim), dim: head.dim, topK: plan.topK }).finally(() => client.close());
    const accuracy = compareToReference(answer.results, refs);
    say(
      `  ${label}: max |Δ log p| ${accuracy.maxLogProbError.toExponential(2)} over ${accuracy.rows} rows, ${accuracy.topMismatches} top-${plan.topK} mismatches`,
    );
    const processes = await system.stop();
    return { head: head.name, label, spec, startupS, points, processes, accuracy };
  } catch (err) {
    await system.stop().catch(() => {});
    throw err;
  }
}

async function tune(head: HeadPlan, pool: Float32Array): Promise<TuningResult[]> {
  const results: TuningResult[] = [];
  for (const variant of plan.tuning(cores)) {
    say(`tuning · ${variant.label}: starting…`);
    const system = await startSystem(variant.spec, head.weights, head.vocabSize);
    const points: PointResult[] = [];
    try {
      for (const point of plan.tuningPoints) points.push(await measurePoint(system, head, pool, point, variant.label));
    } finally {
      results.push({ label: variant.label, points, processes: await system.stop() });
    }
  }
  return results;
}

/** A and C (2 shards) both up; each point measured A then C, for several rounds. */
async function pairedRounds(head: HeadPlan, pool: Float32Array): Promise<PairedRound[]> {
  const [aSpec, cSpec] = [plan.systems(cores).find((s) => s.kind === "single")!, plan.systems(cores).find((s) => s.kind === "shardmax" && s.shards === 2)!];
  say(`${head.name}: paired rounds of ${systemLabel(aSpec)} and ${systemLabel(cSpec)}: starting both…`);
  const a = await startSystem(aSpec, head.weights, head.vocabSize);
  const c = await startSystem(cSpec, head.weights, head.vocabSize).catch(async (err: unknown) => {
    await a.stop();
    throw err;
  });
  const rounds: PairedRound[] = [];
  try {
    for (let round = 1; round <= plan.paired.rounds; round++) {
      for (const point of plan.paired.points) {
        const first = await measurePoint(a, head, pool, point, `round ${round} · ${systemLabel(aSpec)}`);
        const second = await measurePoint(c, head, pool, point, `round ${round} · ${systemLabel(cSpec)}`);
        rounds.push({ point, a: first, c: second });
      }
    }
  } finally {
    await Promise.all([a.stop(), c.stop()]);
  }
  return rounds;
}

/** C with 2 shards on `head`: the full distribution's MB/s against the bandwidth measured on the same head. */
async function distributionPoint(head: HeadPlan, hw: HardwareResult): Promise<DistributionResult> {
  const spec = plan.systems(cores).find((s) => s.kind === "shardmax" && s.shards === 2)!;
  const label = systemLabel(spec);
  say(`${head.name} · ${label}: full distribution, starting…`);
  const system = await startSystem(spec, head.weights, head.vocabSize);
  try {
    const pool = hiddenPool(head.dim, POOL_ROWS);
    const { value, foreignCpu: share } = await undisturbed(system.pids, () => measureDistribution(system, head, label, pool, plan.window));
    say(
      `  ${value.rows} rows × V ${value.vocabSize} per request: ${(value.bytesPerS / 1e6).toFixed(0)} MB/s of log-probs ` +
        `(${value.requests} requests, p50 ${value.p50Ms.toFixed(0)} ms), ` +
        `${((100 * value.bytesPerS) / hw.bandwidthBytesPerS).toFixed(2)}% of the ${(hw.bandwidthBytesPerS / 1e9).toFixed(1)} GB/s memory bandwidth`,
    );
    return { ...value, bandwidthBytesPerS: hw.bandwidthBytesPerS, foreignCpu: share };
  } finally {
    await system.stop();
  }
}

/** C with 2 shards on `head`: queries with and without sampling, in alternation (bench/sampling.ts). */
async function samplingPoint(head: HeadPlan): Promise<SamplingResult> {
  const spec = plan.systems(cores).find((s) => s.kind === "shardmax" && s.shards === 2)!;
  const label = systemLabel(spec);
  say(`${head.name} · ${label}: sampling, ${plan.paired.rounds} round(s) of ${SAMPLING_VARIANTS.map((v) => v.label).join(" / ")}…`);
  const system = await startSystem(spec, head.weights, head.vocabSize);
  try {
    const pool = hiddenPool(head.dim, POOL_ROWS);
    const measurements = await samplingRounds(plan.paired.rounds, (variant, point, round) =>
      measurePoint(system, head, pool, point, `round ${round} · ${variant.label}`, variant.sample ?? undefined),
    );
    return { head: head.name, label, vocabSize: head.vocabSize, measurements };
  } finally {
    await system.stop();
  }
}

/** C with 2 shards on `head`: batch-1 REST queries as /v1 JSON and as /v2 binary, in alternation (bench/v2-rest.ts). */
async function v2Point(head: HeadPlan, rounds: number): Promise<RestPointResult[]> {
  const spec = plan.systems(cores).find((s) => s.kind === "shardmax" && s.shards === 2)!;
  say(`${head.name} · ${systemLabel(spec)}: REST /v1 JSON against /v2 binary, ${rounds} round(s)…`);
  const system = await startSystem(spec, head.weights, head.vocabSize);
  try {
    const pool = hiddenPool(head.dim, POOL_ROWS);
    const senders = REST_DOORS.map((door) => restSender(system.httpAddress!, door, head.dim, plan.topK));
    const answers = await Promise.all(senders.map((send) => send(pool.subarray(0, head.dim))));
    if (JSON.stringify(answers[0]) !== JSON.stringify(answers[1])) throw new Error(`the doors disagree: ${JSON.stringify(answers)}`);
    const out: RestPointResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const point of V2_POINTS) {
        for (const [i, door] of REST_DOORS.entries()) {
          await quiet(system.pids);
          const r = { round, door, point, ...(await restLoad(senders[i]!, pool, head.dim, point, plan.window)) };
          say(
            `  round ${round} · ${door} · batch ${point.rows} × ${point.concurrency}: ${r.rowsPerS.toFixed(0)} rows/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ""}`,
          );
          out.push(r);
        }
      }
    }
    return out;
  } finally {
    await system.stop();
  }
}

if (values.only === "v2") {
  say(`shardmax bench, V2 REST only, ${plan.name} plan: ${machine.cpu}, ${cores} cores, Node ${machine.node}; load average ${loadAverage().toFixed(2)}`);
  const v2 = await v2Point(plan.heads[0]!, Math.max(3, plan.paired.rounds));
  const command = `npm run bench -- --only v2${values.quick ? " --quick" : ""}`;
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, machine, loadAverage: loadAverage(), v2 }, null, 2)}\n`);
  writeFileSync(join(outDir, "V2.md"), `# REST /v1 JSON against /v2 binary (\`${command}\`, ${plan.heads[0]!.name})\n\n${restSummary(v2)}\n`);
  say(restSummary(v2));
  process.exit(0);
}

/** C with 2 shards on `head`, metrics and traces off / on, each variant's processes started in turn every round. */
async function observabilityPoint(head: HeadPlan): Promise<ObserveMeasurement[]> {
  const base = plan.systems(cores).find((s) => s.kind === "shardmax" && s.shards === 2)!;
  const sink = await startTraceSink();
  const out: ObserveMeasurement[] = [];
  try {
    // At least three rounds, even in a quick run: one round's ratio is mostly the machine's drift.
    for (let round = 1; round <= Math.max(3, plan.paired.rounds); round++) {
      for (const variant of OBSERVE_VARIANTS) {
        const system = await startSystem({ ...base, observe: variant.observe(sink.url) } as SystemSpec, head.weights, head.vocabSize);
        try {
          const pool = hiddenPool(head.dim, POOL_ROWS);
          for (const point of OBSERVE_POINTS)
            out.push({ round, variant: variant.label, result: await measurePoint(system, head, pool, point, `round ${round} · ${variant.label}`) });
        } finally {
          await system.stop();
        }
      }
    }
    say(`  trace sink received ${(sink.bytes() / 1e6).toFixed(1)} MB of OTLP`);
  } finally {
    sink.close();
  }
  return out;
}

if (values.only === "observability") {
  say(`shardmax bench, observability only, ${plan.name} plan: ${machine.cpu}, ${cores} cores, Node ${machine.node}; load average ${loadAverage().toFixed(2)}`);
  const measurements = await observabilityPoint(plan.heads[0]!);
  const command = `npm run bench -- --only observability${values.quick ? " --quick" : ""}`;
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, machine, loadAverage: loadAverage(), observability: measurements }, null, 2)}\n`);
  writeFileSync(join(outDir, "OBSERVABILITY.md"), `# Metrics and traces overhead (\`${command}\`)\n\n${observeSection(measurements, command)}\n`);
  say(`done: ${relative(process.cwd(), join(outDir, "OBSERVABILITY.md"))}, results.json`);
  process.exit(0);
}

if (values.soak !== undefined) {
  const minutes = Number(values.soak);
  if (!(minutes > 0)) throw new Error(`--soak: expected minutes > 0, got "${values.soak}"`);
  const soakDir = values.out ?? join(root, "bench", "work", "soak");
  mkdirSync(soakDir, { recursive: true });
  say(`shardmax bench, soak ${minutes} min: ${machine.cpu}, ${cores} cores, Node ${machine.node}; load average ${loadAverage().toFixed(2)}`);
  const before = loadAverage();
  const soak = await runSoak(minutes, say);
  const load = `${before.toFixed(2)} at the start, ${loadAverage().toFixed(2)} at the end`;
  writeFileSync(join(soakDir, "results.json"), `${JSON.stringify({ machine, ...soak }, null, 2)}\n`);
  writeFileSync(join(soakDir, "SOAK.md"), soakSection(soak, load));
  say(`done: ${relative(process.cwd(), join(soakDir, "SOAK.md"))}, results.json`);
  process.exit(0);
}

if (values.only === "tls") {
  say(`shardmax bench, cost of TLS only: ${machine.cpu}, ${cores} cores, Node ${machine.node}; load average ${loadAverage().toFixed(2)}`);
  const before = loadAverage();
  const command = `npm run bench -- --only tls${values.quick ? " --quick" : ""}`;
  const measured = await runTlsCost(values.quick ? 1 : 3, values.quick ? 2000 : 6000, say);
  const load = `${before.toFixed(2)} at the start, ${loadAverage().toFixed(2)} at the end`;
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, machine, tls: measured }, null, 2)}\n`);
  writeFileSync(join(outDir, "TLS.md"), tlsSection(measured, command, load));
  say(`done: ${relative(process.cwd(), join(outDir, "TLS.md"))}, results.json`);
  process.exit(0);
}

if (onlySampling) {
  say(`shardmax bench, sampling only, ${plan.name} plan: ${machine.cpu}, ${cores} cores, Node ${machine.node}`);
  const sampling = [await samplingPoint(plan.heads[0]!)];
  const command = `npm run bench -- --only sampling${values.quick ? " --quick" : ""}`;
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, machine, sampling }, null, 2)}\n`);
  writeFileSync(join(outDir, "SAMPLING.md"), `# Sampling (\`${command}\`)\n\n${samplingSection(sampling)}\n`);
  say(`done: ${relative(process.cwd(), join(outDir, "SAMPLING.md"))}, results.json`);
  process.exit(0);
}

if (onlyDistribution) {
  say(`shardmax bench, full distribution only, ${plan.name} plan: ${machine.cpu}, ${cores} cores, Node ${machine.node}`);
  const measured: DistributionResult[] = [];
  for (const head of plan.heads) measured.push(await distributionPoint(head, await hardware(head)));
  const command = `npm run bench -- --only distribution${values.quick ? " --quick" : ""}`;
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify({ command, machine, distribution: measured }, null, 2)}\n`);
  say(`done: ${relative(process.cwd(), join(outDir, "results.json"))}`);
  process.exit(0);
}

say(
  `shardmax bench, ${plan.name} plan: ${machine.cpu}, ${cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, onnxruntime ${machine.onnxruntime}; load average ${loadAverage().toFixed(2)}`,
);
const results: BenchResults = {
  plan: plan.name,
  command: `npm run bench${values.quick ? " -- --quick" : ""}`,
  startedAt: new Date(started).toISOString(),
  durationS: 0,
  machine,
  loadAverage: { start: loadAverage(), end: NaN },
  topK: plan.topK,
  hardware: [],
  eventLoop: [],
  systems: [],
  tuning: [],
  paired: [],
};
for (const head of plan.heads) results.hardware.push(await hardware(head));

say(`event loop: one shard on the ${plan.eventLoop.head.name}, ${plan.eventLoop.concurrency} callers…`);
for (const inference of ["worker", "main"] as const) {
  await quiet(() => []);
  const e = await measureEventLoop(plan.eventLoop.head, inference, plan.eventLoop.concurrency, plan.eventLoop.measureMs, cores);
  say(
    `  inference on the ${inference} thread: loop delay p99 ${e.loop.p99Ms.toFixed(1)} ms, max ${e.loop.maxMs.toFixed(1)} ms; health p99 ${e.health.p99Ms.toFixed(1)} ms over ${e.health.checks} checks`,
  );
  results.eventLoop.push(e);
}

for (const head of plan.heads) {
  const pool = hiddenPool(head.dim, POOL_ROWS);
  say(`${head.name}: float64 reference for ${plan.sampleRows} sample rows…`);
  const refs = await referenceRows(head.weights, pool, plan.sampleRows, plan.topK);
  for (const spec of plan.systems(cores)) results.systems.push(await measureSystem(spec, head, pool, refs));
}
results.distribution = [];
for (const [i, head] of plan.heads.entries()) results.distribution.push(await distributionPoint(head, results.hardware[i]!));
results.sampling = [await samplingPoint(plan.heads[0]!)];
if (plan.paired.rounds > 0) results.paired = await pairedRounds(plan.heads[0]!, hiddenPool(plan.heads[0]!.dim, POOL_ROWS));
if (plan.tuning(cores).length > 0) results.tuning = await tune(plan.heads[0]!, hiddenPool(plan.heads[0]!.dim, POOL_ROWS));

results.durationS = (Date.now() - started) / 1000;
results.loadAverage.end = loadAverage();
const svg = chartSvg(results.systems, `shardmax bench (${plan.name}), ${machine.cpu}, ${cores} cores, ${results.startedAt.slice(0, 10)}`);
writeFileSync(join(outDir, "rows-per-second.svg"), svg);
writeFileSync(join(outDir, "rows-per-second.png"), chartPng(svg));
writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(outDir, "REPORT.md"), renderReport(results, "rows-per-second.png"));
say(`done in ${(results.durationS / 60).toFixed(1)} min: ${relative(process.cwd(), join(outDir, "REPORT.md"))}, rows-per-second.png, results.json`);
process.exit(0);
