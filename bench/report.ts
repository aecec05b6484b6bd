/**
 * REPORT.md from a run's results: the machine, the targets of issue #4 with
 * what was reached, the measured hardware bound, throughput and latency per
 * head and system, memory, accuracy, the event-loop measurement and the
 * batching-default tuning, and how each figure was measured.
 */
import type { BenchResults, HardwareResult, PointResult, SystemResult } from "./results.js";
import { type SamplingResult, samplingSummary } from "./sampling.js";

const MiB = 2 ** 20;
const fixed = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "—");
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(100 * x)}%` : "—");
const table = (head: string[], rows: string[][]) =>
  [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
const requestLabel = (p: PointResult) => `${p.point.rows} × ${p.point.concurrency}`;

export interface Targets {
  lines: string[][];
}

function find(results: BenchResults, head: string, label: string, rows: number, concurrency: number): PointResult | undefined {
  return results.systems.find((s) => s.head === head && s.label === label)?.points.find((p) => p.point.rows === rows && p.point.concurrency === concurrency);
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Per-round ratios of the paired comparison at one point, or [] when it was not run. */
function pairedRatios(results: BenchResults, concurrency: number, ratio: (a: PointResult, c: PointResult) => number): number[] {
  return results.paired.filter((r) => r.point.rows === 1 && r.point.concurrency === concurrency).map((r) => ratio(r.a, r.c));
}

/**
 * The memory bound uses the best bandwidth measured anywhere in the run: the
 * machine's speed drifts, and a probe that ran in a slow phase would make a
 * faster shard batch look like more than 100% of the bound.
 */
let machineBandwidth = 0;
const bandwidthBoundMs = (hw: HardwareResult) => (hw.weightBytes / Math.max(hw.bandwidthBytesPerS, machineBandwidth)) * 1000;
const flopsOf = (hw: HardwareResult, batch: number, ms: number) => (2 * batch * hw.vocabSize * hw.dim) / (ms / 1000);

/**
 * A target's figure from paired rounds when there are any (their median, listed), else the
 * sequential figure: `{ reached, paired }` where `paired` is the text to put before the sequential one.
 */
function fromRounds(rounds: readonly number[], sequential: number, show: (x: number) => string, label = ""): { reached: number; paired: string } {
  if (rounds.length === 0) return { reached: sequential, paired: "" };
  const reached = median(rounds);
  return { reached, paired: `${label}median of ${rounds.length} paired rounds **${show(reached)}** (${rounds.map(show).join(", ")}); ` };
}

export function targets(results: BenchResults): string[][] {
  const llm = results.systems[0]?.head ?? "";
  const A = "A · single process";
  const B = "B · gather logits, 2 shards";
  const C2 = "C · shardmax, 2 shards";
  const lines: string[][] = [];
  const a32 = find(results, llm, A, 1, 32);
  const c32 = find(results, llm, C2, 1, 32);
  const throughputRounds = pairedRatios(results, 32, (a, c) => c.load.rowsPerS / a.load.rowsPerS);
  if (a32 && c32) {
    const sequential = c32.load.rowsPerS / a32.load.rowsPerS;
    const { reached: ratio, paired } = fromRounds(throughputRounds, sequential, (r) => `${fixed(r)}×`);
    lines.push([
      "batch-1 × 32 callers, LLM head: C (2 shards) ≥ 8× A's rows/s",
      `${paired}main table ${int(c32.load.rowsPerS)} vs ${int(a32.load.rowsPerS)} rows/s = ${fixed(sequential)}×`,
      ratio >= 8 ? "yes" : "**no**",
    ]);
  }
  const a1 = find(results, llm, A, 1, 1);
  const c1 = find(results, llm, C2, 1, 1);
  const latencyRounds = pairedRatios(results, 1, (a, c) => c.load.p50Ms / a.load.p50Ms);
  if (a1 && c1) {
    const sequential = c1.load.p50Ms / a1.load.p50Ms;
    const { reached: ratio, paired } = fromRounds(latencyRounds, sequential, (r) => `${fixed(r, 2)}×`);
    lines.push([
      "batch-1 × 1 caller, LLM head: C (2 shards) p50 ≤ 1.3× A's",
      `${paired}main table ${fixed(c1.load.p50Ms, 2)} vs ${fixed(a1.load.p50Ms, 2)} ms = ${fixed(sequential, 2)}×`,
      ratio <= 1.3 ? "yes" : "**no**",
    ]);
  }
  const b1 = find(results, llm, B, 1, 1);
  if (b1?.wirePerRow && c1?.wirePerRow) {
    const back = b1.wirePerRow.fromShards / c1.wirePerRow.fromShards;
    const both = (b1.wirePerRow.fromShards + b1.wirePerRow.toShards) / (c1.wirePerRow.fromShards + c1.wirePerRow.toShards);
    lines.push([
      `bytes on the wire per row, top-${results.topK}, LLM head: ≥ 1000× fewer than B`,
      `shards → gateway ${int(c1.wirePerRow.fromShards)} vs ${int(b1.wirePerRow.fromShards)} B/row = **${int(back)}×** fewer; both directions (the hidden row goes to every shard in both) ${int(both)}×`,
      back >= 1000 ? "yes (answers)" : "**no**",
    ]);
  }
  for (const hw of results.hardware) {
    const shard = (batch: number) => hw.kernels.find((k) => k.graph === "shard" && k.threads === hw.threads && k.batch === batch);
    const one = shard(1);
    if (one) {
      const f = bandwidthBoundMs(hw) / one.timing.medianMs;
      const sequential = `${fixed(bandwidthBoundMs(hw), 2)} ms bound / ${fixed(one.timing.medianMs, 2)} ms median = ${pct(f)} (best run ${pct(bandwidthBoundMs(hw) / one.timing.minMs)})`;
      const { reached, paired } = fromRounds(hw.paired?.bandwidth ?? [], f, pct);
      lines.push([
        `${hw.head}: one shard batch of 1 ≥ 80% of the memory-bandwidth bound`,
        `${paired}sequential: ${sequential}`,
        reached >= 0.8 ? "yes" : "**no**",
      ]);
    }
    const big = hw.kernels.filter((k) => k.graph === "shard" && k.threads === hw.threads && k.batch >= 64);
    if (big.length > 0) {
      const best = big.reduce((a, b) => (flopsOf(hw, a.batch, a.timing.medianMs) >= flopsOf(hw, b.batch, b.timing.medianMs) ? a : b));
      const f = flopsOf(hw, best.batch, best.timing.medianMs) / hw.gemmPeakFlops;
      const sequential = `batch ${best.batch}: ${fixed(flopsOf(hw, best.batch, best.timing.medianMs) / 1e9)} of ${fixed(hw.gemmPeakFlops / 1e9)} GFLOP/s = ${pct(f)}`;
      const { reached, paired } = fromRounds(hw.paired?.gemm ?? [], f, pct, `batch ${hw.paired?.bigBatch}, `);
      lines.push([
        `${hw.head}: one shard batch ≥ 64 rows ≥ 80% of the measured GEMM peak`,
        `${paired}sequential, best batch: ${sequential}`,
        reached >= 0.8 ? "yes" : "**no**",
      ]);
    }
  }
  return lines;
}

function hardwareSection(hw: HardwareResult): string {
  const rows = hw.kernels.map((k) => [
    k.graph === "shard" ? "shard session (real graph)" : "bare Gemm + bias",
    `${k.threads}`,
    `${k.batch}`,
    fixed(k.timing.medianMs, 2),
    fixed(k.timing.minMs, 2),
    fixed(hw.weightBytes / (k.timing.medianMs / 1000) / 1e9),
    fixed(flopsOf(hw, k.batch, k.timing.medianMs) / 1e9),
    pct(bandwidthBoundMs(hw) / k.timing.medianMs),
    pct(flopsOf(hw, k.batch, k.timing.medianMs) / hw.gemmPeakFlops),
  ]);
  return [
    `### ${hw.head} (${hw.vocabSize} × ${hw.dim}, ${int(hw.weightBytes / MiB)} MiB F32)`,
    "",
    `- measured while other processes used ${pct(hw.foreignCpu)} of the CPU`,
    `- memory bandwidth: ${fixed(hw.bandwidthBytesPerS / 1e9)} GB/s measured with these weights (ReduceSum streaming the ${int(hw.weightBytes / MiB)} MiB viewed as rows of 16, 128 and 1024 floats, best run, ${hw.threads} threads); the bound uses the best of the run, **${fixed(Math.max(hw.bandwidthBytesPerS, machineBandwidth) / 1e9)} GB/s** → streaming W once takes **${fixed(bandwidthBoundMs(hw), 2)} ms**`,
    hw.paired && hw.paired.bandwidth.length > 0
      ? `- paired rounds (stream ÷ shard batch of 1; shard batch of ${hw.paired.bigBatch} ÷ square Gemm, in GFLOP/s): ${hw.paired.bandwidth.map(pct).join(", ")}; ${hw.paired.gemm.map(pct).join(", ")}`
      : "- no paired rounds",
    `- GEMM peak: **${fixed(hw.gemmPeakFlops / 1e9)} GFLOP/s** (square Gemm ${hw.gemmN}³, best run, ${hw.threads} threads) → the compute bound on throughput is **${int(hw.gemmPeakFlops / (2 * hw.vocabSize * hw.dim))} rows/s**`,
    "",
    table(["graph", "threads", "batch", "median ms", "best ms", "GB/s of W", "GFLOP/s", "of bandwidth bound", "of GEMM peak"], rows),
  ].join("\n");
}

function throughputSection(results: BenchResults, head: string): string {
  const hw = results.hardware.find((h) => h.head === head);
  const computeBound = hw ? hw.gemmPeakFlops / (2 * hw.vocabSize * hw.dim) : NaN;
  const rows: string[][] = [];
  for (const s of results.systems.filter((x) => x.head === head)) {
    for (const p of s.points) {
      rows.push([
        s.label,
        requestLabel(p),
        `**${int(p.load.rowsPerS)}**`,
        fixed(p.load.p50Ms, 2),
        fixed(p.load.p99Ms, 2),
        p.wirePerRow ? int(p.wirePerRow.toShards) : "—",
        p.wirePerRow ? int(p.wirePerRow.fromShards) : "—",
        pct(p.load.rowsPerS / computeBound),
        p.cpuCores ? `${fixed(p.cpuCores.servers, 2)} + ${fixed(p.cpuCores.loadGenerator, 2)}` : "—",
        p.load.errors > 0 ? `${p.load.errors}: ${p.load.firstError}` : "0",
        pct(p.foreignCpu),
      ]);
    }
  }
  return table(
    [
      "system",
      "rows × callers",
      "rows/s",
      "p50 ms",
      "p99 ms",
      "wire → shards B/row",
      "wire ← shards B/row",
      "of compute bound",
      "CPU cores: servers + callers",
      "errors",
      "others' CPU",
    ],
    rows,
  );
}

function memorySection(systems: readonly SystemResult[]): string {
  const rows = systems.flatMap((s) =>
    s.processes.map((p) => [
      s.head,
      s.label,
      p.role,
      int(p.peakBytes / MiB),
      int(p.residentBytes / MiB),
      p.batches ? fixed(p.batches.rows / p.batches.runs, 1) : "—",
    ]),
  );
  return table(["head", "system", "process", "peak RSS MiB", "RSS at end MiB", "rows per onnxruntime run"], rows);
}

function accuracySection(systems: readonly SystemResult[], topK: number): string {
  const rows = systems.map((s) => [s.head, s.label, `${s.accuracy.rows}`, s.accuracy.maxLogProbError.toExponential(2), `${s.accuracy.topMismatches}`]);
  return table(["head", "system", "rows checked", "max |Δ log p| and |Δ logZ|", `rows whose top-${topK} ids differ`], rows);
}

/** Sampling against the same queries without it, per point (median of per-round ratios), and its bytes on the wire. */
export function samplingSection(sampling: readonly SamplingResult[]): string {
  const out: string[] = [];
  for (const result of sampling) {
    const rows = samplingSummary(result).map((r) => [
      `${r.point.rows} × ${r.point.concurrency}`,
      r.variant,
      fixed(r.p50Ms),
      int(r.rowsPerS),
      `${fixed(r.p50Ratio, 2)}×`,
      `${fixed(r.rowsRatio, 2)}×`,
      r.wireFromShards === null ? "—" : int(r.wireFromShards),
    ]);
    out.push(
      `${result.head}, ${result.label}. Each point measured without sampling, with \`sample: {n: 1}\` and with \`sample: {n: 1, topP: 0.9}\`, in alternation, ` +
        `${Math.max(...result.measurements.map((m) => m.round))} round(s); ratios are the median of the per-round ratios to the query without sampling ` +
        `(targets: p50 ≤ 1.1×, rows/s ≥ 0.9×). Gathering the logits instead would move 4·V = ${int(4 * result.vocabSize)} bytes per row from the shards.`,
      "",
      table(["rows × callers", "query", "p50 ms", "rows/s", "p50 vs none", "rows/s vs none", "shards → gateway B/row"], rows),
      "",
    );
  }
  return out.join("\n");
}

export function renderReport(results: BenchResults, chartFile: string): string {
  machineBandwidth = Math.max(0, ...results.hardware.map((h) => h.bandwidthBytesPerS));
  const m = results.machine;
  const heads = [...new Set(results.systems.map((s) => s.head))];
  const out: string[] = [
    "# shardmax benchmark report",
    "",
    `Plan **${results.plan}**, started ${results.startedAt}, took ${fixed(results.durationS / 60)} min. Command: \`${results.command}\`.`,
    "Every figure below comes from this one run on this one machine; rerun the command to reproduce it.",
    "",
    "## Machine",
    "",
    table(
      ["CPU", "cores", "memory", "OS", "Node", "onnxruntime", "1-min load average, start → end"],
      [
        [
          m.cpu,
          `${m.cores}`,
          `${m.memoryGiB} GiB`,
          m.os,
          m.node,
          m.onnxruntime,
          `${fixed(results.loadAverage.start, 2)} → ${fixed(results.loadAverage.end, 2)}`,
        ],
      ],
    ),
    "",
    'The machine may be shared. Before each measurement the bench waits for other processes to go quiet, records the share of all CPU time they used meanwhile ("others\' CPU"), and repeats a measurement that was disturbed by more than 10% (twice at most, keeping the least disturbed).',
    "",
    "## The targets of issue #4",
    "",
    table(["target", "measured", "reached"], targets(results)),
    "",
    "## Throughput and latency",
    "",
    `Requests are \`rows × callers\`: each caller sends queries of that many hidden rows (top-${results.topK}, no targets) back to back over gRPC for a warm-up, then a measured window; rows/s counts the rows answered in the window. "Wire" is what the kernel counted on the gateway's TCP connections to its shards, per answered row (HTTP/2 framing included). "Of compute bound" is rows/s against the GEMM peak ÷ (2·V·d). "CPU cores" is the CPU time the system's processes (shards, gateway) and the callers (the load generator, one process running the shardmax SDK) used over the run, in cores: on this ${results.machine.cores}-core machine they all share the same cores.`,
    "",
    `![rows/s against concurrency](${chartFile})`,
    "",
  ];
  for (const head of heads) out.push(`### ${head}`, "", throughputSection(results, head), "");
  out.push("## Hardware bound, measured here", "");
  for (const hw of results.hardware) out.push(hardwareSection(hw), "");
  out.push(
    "## Memory per process",
    "",
    "Peak (VmHWM) includes loading. A and B build one onnxruntime session from a model holding the weights, so their peak is a few times what they serve; a shardmax shard builds its slice block by block (README, Memory), and its figures include the warm-up run of its largest batch.",
    "",
    memorySection(results.systems),
    "",
  );
  out.push(
    "## Accuracy against float64",
    "",
    `Sample rows were answered by every system and compared with a float64 softmax computed by the bench (bench/reference.ts) from the same weights.`,
    "",
    accuracySection(results.systems, results.topK),
    "",
  );
  if (results.sampling?.length) out.push("## Sampling", "", samplingSection(results.sampling), "");
  if (results.distribution?.length) {
    const rows = results.distribution.map((d) => [
      d.head,
      d.label,
      `${d.rows} × ${d.vocabSize}`,
      `${d.requests}`,
      fixed(d.p50Ms, 0),
      fixed(d.bytesPerS / 1e6, 0),
      fixed(d.bandwidthBytesPerS / 1e9, 1),
      `${fixed((100 * d.bytesPerS) / d.bandwidthBytesPerS, 2)}%`,
      pct(d.foreignCpu),
    ]);
    out.push(
      "## Full distribution",
      "",
      "One caller asks for every class's log-prob (`client.distribution` over gRPC, chunks consumed as they arrive), requests back to back; MB/s counts the float32 log-probs received. Each request is a logZ round plus one pass of every shard's weights for the logits, then 4·V bytes per row from the shards through the gateway to the client. Alone: `npm run bench -- --only distribution`.",
      "",
      table(
        ["head", "system", "rows × V per request", "requests", "p50 ms", "MB/s of log-probs", "memory bandwidth GB/s", "of bandwidth", "others' CPU"],
        rows,
      ),
      "",
    );
  }
  if (results.eventLoop.length > 0) {
    const rows = results.eventLoop.map((e) => [
      e.inference === "worker" ? "worker thread (shipped)" : "main thread",
      `${fixed(e.loop.p50Ms, 1)} / ${fixed(e.loop.p99Ms, 1)} / ${fixed(e.loop.maxMs, 1)}`,
      `${fixed(e.health.p50Ms, 2)} / ${fixed(e.health.p99Ms, 2)} / ${fixed(e.health.maxMs, 2)} (${e.health.checks})`,
      int(e.partialsPerS),
      fixed(e.rowsPerRun, 1),
    ]);
    out.push(
      "## Event loop of a shard under full load",
      "",
      "One shard serving the whole head, flooded with batch-1 Partials by 32 callers; the shard samples its own event-loop delay (monitorEventLoopDelay) while a client times gRPC health checks.",
      "",
      table(["onnxruntime runs on", "event-loop delay p50 / p99 / max ms", "health check p50 / p99 / max ms (checks)", "Partials/s", "rows per run"], rows),
      "",
    );
  }
  if (results.paired.length > 0) {
    const rows = results.paired.map((r, i) => [
      `${Math.floor(i / Math.max(1, new Set(results.paired.map((p) => `${p.point.rows}x${p.point.concurrency}`)).size)) + 1}`,
      requestLabel(r.a),
      `${int(r.a.load.rowsPerS)} / ${fixed(r.a.load.p50Ms, 2)}`,
      `${int(r.c.load.rowsPerS)} / ${fixed(r.c.load.p50Ms, 2)}`,
      `${fixed(r.c.load.rowsPerS / r.a.load.rowsPerS, 2)}×`,
      `${fixed(r.c.load.p50Ms / r.a.load.p50Ms, 2)}×`,
      `${pct(r.a.foreignCpu)} / ${pct(r.c.foreignCpu)}`,
    ]);
    out.push(
      "## Paired comparison for the targets",
      "",
      `The speed of this machine drifts by tens of percent within minutes (the memory bus is shared with other virtual machines; A's own batch-1 latency moved between points of the table above). So A and C (2 shards) on the ${heads[0]} are also measured with both up, in alternation, A then C, round after round; the targets use the median of the per-round ratios.`,
      "",
      table(["round", "rows × callers", "A rows/s / p50 ms", "C rows/s / p50 ms", "C ÷ A rows/s", "C ÷ A p50", "others' CPU (A / C)"], rows),
      "",
    );
  }
  if (results.tuning.length > 0) {
    const rows = results.tuning.flatMap((t) =>
      t.points.map((p) => [
        t.label,
        requestLabel(p),
        int(p.load.rowsPerS),
        fixed(p.load.p50Ms, 2),
        fixed(p.load.p99Ms, 2),
        t.processes
          .filter((x) => x.batches)
          .map((x) => fixed(x.batches!.rows / x.batches!.runs, 1))
          .join(", "),
      ]),
    );
    out.push(
      "## Choosing the batching defaults",
      "",
      `C with 2 shards on the ${heads[0]}, batch-1 requests.`,
      "",
      table(["shard flags", "rows × callers", "rows/s", "p50 ms", "p99 ms", "rows per run (each shard)"], rows),
      "",
    );
  }
  out.push(
    "## How each figure is measured",
    "",
    "- **Systems.** A: `bench/single/server.ts`, the whole head in one onnxruntime session (Gemm → Softmax → TopK), one run per request. B: `bench/gather/`, shards with the same class ranges and the same dynamic batcher return every logit of their range (`bytes`, V_s floats per row); the gateway gathers [B, V] and runs the softmax and top-k in onnxruntime. C: the real `shardmax shard` and `shardmax gateway` processes with their defaults (the gateway coalesces concurrent queries into one Partial per range, the shards batch what reaches them). All serve `shardmax.v1.Softmax` Query and are driven by the same load generator (`bench/load.ts`, the shardmax SDK) from the benchmark process.",
    "- **Threads.** A uses every core; each of N shards uses cores ÷ N onnxruntime threads (at least 1), as `shardmax local` does.",
    "- **Hardware bound.** Bandwidth: an onnxruntime ReduceSum over the head's own weight tensor, best of several runs. GEMM peak: a square Gemm, best run. One shard batch: `ShardSession.run` over the whole head in-process, median and best of several runs. The targets use paired rounds: in each, the stream (best of 3) and a shard batch of 1 (median of 3) run back to back, as do the square Gemm (best of 2) and a shard batch of the largest size from 64 to 128 rows the plan measures, and the round's ratio is taken under the same machine state; the target is the median round.",
    "- **Memory.** VmHWM and VmRSS of each process from /proc just before it is stopped.",
    "- **Wire.** `ss -ti` byte counters of the gateway's connections to the shard ports, before and after each measurement, divided by the rows answered in between (warm-up included).",
    "- **Accuracy.** Max |log p − log p_ref| over the returned top-k entries and |logZ − logZ_ref|, against float64 sums over the float32 weights.",
  );
  return `${out.join("\n")}\n`;
}
