/**
 * Renders REPORT.md and the chart again from a run's results.json, e.g. after
 * a change to the report's layout: `node dist/bench/render.js [DIR]` (default bench/).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../shared/package-root.js";
import { chartPng, chartSvg } from "./chart.js";
import { renderReport } from "./report.js";
import type { BenchResults } from "./results.js";

const dir = process.argv[2] ?? join(packageRoot(), "bench");
const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as BenchResults;
const svg = chartSvg(
  results.systems,
  `shardmax bench (${results.plan}), ${results.machine.cpu}, ${results.machine.cores} cores, ${results.startedAt.slice(0, 10)}`,
);
writeFileSync(join(dir, "rows-per-second.svg"), svg);
writeFileSync(join(dir, "rows-per-second.png"), chartPng(svg));
writeFileSync(join(dir, "REPORT.md"), renderReport(results, "rows-per-second.png"));
process.stdout.write(`rendered ${join(dir, "REPORT.md")}\n`);
