/** What the benchmark ran on, for the report: CPU, cores, memory, OS, versions, and how busy the machine was. */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, release, totalmem, type } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../shared/package-root.js";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
}

export function describeMachine(): Machine {
  const ortPackage = JSON.parse(readFileSync(join(packageRoot(), "node_modules", "onnxruntime-node", "package.json"), "utf8")) as { version: string };
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    onnxruntime: ortPackage.version,
  };
}

/** 1-minute load average: other work on the machine shows up here and in the figures. */
export function loadAverage(): number {
  return loadavg()[0]!;
}
