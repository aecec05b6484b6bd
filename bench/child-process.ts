/**
 * The processes a benchmark run starts: each one a node process whose stdout
 * carries JSON-line events (`listening`, `ready`, `result`) and whose stderr
 * is kept as a tail for errors. Peak and current resident memory come from
 * /proc/<pid>/status (VmHWM, VmRSS), read before the process is stopped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

export interface BenchEvent {
  event: string;
  [key: string]: unknown;
}

export interface Memory {
  peakBytes: number;
  residentBytes: number;
}

export class BenchChild {
  readonly events: BenchEvent[] = [];
  private readonly waiters: { event: string; resolve: (e: BenchEvent) => void }[] = [];
  private readonly tail: string[] = [];
  private readonly process: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    readonly label: string,
    script: string,
    args: readonly string[],
    onStderr: (line: string) => void = () => {},
  ) {
    // stdin stays an open pipe: shards started with --events stop by themselves when it closes.
    this.process = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.process.once("close", (code) => resolve(code)));
    createInterface({ input: this.process.stdout! }).on("line", (line) => {
      let event: BenchEvent;
      try {
        event = JSON.parse(line) as BenchEvent;
      } catch {
        return;
      }
      this.events.push(event);
      for (const w of this.waiters.filter((w) => w.event === event.event)) w.resolve(event);
    });
    createInterface({ input: this.process.stderr! }).on("line", (line) => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
      onStderr(line);
    });
    this.process.stdin!.on("error", () => {});
  }

  get pid(): number {
    return this.process.pid!;
  }

  stderrTail(): string {
    return this.tail.join("\n");
  }

  /** Resolves with the first event of this name (also one already seen); rejects if the process exits first. */
  async next(event: string, timeoutMs = 600_000): Promise<BenchEvent> {
    const seen = this.events.find((e) => e.event === event);
    if (seen) return seen;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<BenchEvent>((resolve) => this.waiters.push({ event, resolve })),
        this.exited.then((code) => Promise.reject(new Error(`${this.label} exited (${code}) before "${event}":\n${this.stderrTail()}`))),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.label}: no "${event}" within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One line to the child's stdin (the event-loop probe takes commands this way). */
  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  memory(): Memory {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { peakBytes: kib("VmHWM"), residentBytes: kib("VmRSS") };
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** For the bench's own child scripts: one JSON event per line on stdout. */
export function emit(event: BenchEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** For child scripts: serve until SIGTERM/SIGINT or until the parent's stdin pipe closes. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
    process.stdin.once("end", () => resolve());
    process.stdin.resume();
  });
}
