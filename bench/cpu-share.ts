/**
 * How much of the machine's CPU went to processes outside the benchmark while
 * it measured. The machine may be shared (on a 2-core box, another test suite
 * halves every figure), so each measurement records this share and is
 * repeated when it was too high. From /proc (Linux): all CPUs' busy ticks from
 * /proc/stat minus the ticks of the bench and its children (/proc/<pid>/stat,
 * all threads); both in the same clock ticks, so no tick rate is needed.
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

interface Sample {
  busy: number;
  total: number;
  ours: number;
}

function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal; guest time is already in user
  const idle = fields[3]! + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

function processTicks(pid: number | "self", withReaped = pid === "self"): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime + stime of every thread; for the bench itself also cutime + cstime, the time of
    // children that have exited and been reaped, so a child that ends mid-measurement still counts as ours.
    const own = Number(after[11]) + Number(after[12]);
    return withReaped ? own + Number(after[13]) + Number(after[14]) : own;
  } catch {
    return 0; // the process is gone (its time is now in the bench's cutime)
  }
}

function sample(pids: readonly number[]): Sample {
  return { ...machineTicks(), ours: processTicks("self") + pids.reduce((n, pid) => n + processTicks(pid), 0) };
}

/** Starts measuring; the returned function gives the foreign share of all CPU time since, in [0, 1]. */
export function foreignCpu(pids: () => readonly number[]): () => number {
  let supported = true;
  let start: Sample = { busy: 0, total: 0, ours: 0 };
  try {
    start = sample(pids());
  } catch {
    supported = false;
  }
  return () => {
    if (!supported) return NaN;
    const end = sample(pids());
    const total = end.total - start.total;
    if (total <= 0) return 0;
    return Math.max(0, end.busy - start.busy - (end.ours - start.ours)) / total;
  };
}

/** Cores' worth of CPU time used since the call: by the system's processes, and by the bench itself (its load generator). */
export interface CpuUse {
  servers: number;
  loadGenerator: number;
}

/**
 * Starts measuring what the system under test and the load generator use:
 * when the cores are saturated this is where the time went (a 2-core box
 * shares them between shards, gateway and the callers).
 */
export function cpuUse(pids: () => readonly number[]): () => CpuUse {
  const take = () => {
    const machine = machineTicks();
    return { total: machine.total, servers: pids().reduce((n, pid) => n + processTicks(pid), 0), self: processTicks("self", false) };
  };
  let start: ReturnType<typeof take> | null = null;
  try {
    start = take();
  } catch {
    start = null;
  }
  return () => {
    if (!start) return { servers: NaN, loadGenerator: NaN };
    const end = take();
    // All CPUs' ticks over the interval, per core, is the interval itself in ticks.
    const interval = (end.total - start.total) / cpus().length;
    if (interval <= 0) return { servers: 0, loadGenerator: 0 };
    return { servers: (end.servers - start.servers) / interval, loadGenerator: (end.self - start.self) / interval };
  };
}

/** Waits (up to maxWaitMs) until others used less than `share` of the CPU for a whole `windowMs`; returns the last share seen. */
export async function waitForQuiet(
  pids: () => readonly number[],
  share: number,
  windowMs: number,
  maxWaitMs: number,
  onWait: (seen: number) => void,
): Promise<number> {
  const giveUp = Date.now() + maxWaitMs;
  for (;;) {
    const measure = foreignCpu(pids);
    await new Promise((r) => setTimeout(r, windowMs));
    const seen = measure();
    if (!(seen >= share) || Date.now() >= giveUp) return seen;
    onWait(seen);
  }
}
