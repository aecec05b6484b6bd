/**
 * One `shardmax shard --events` child process of `shardmax local`, seen from
 * the parent: its port (reported on stdout, since it binds port 0), its
 * loading progress, readiness, the tail of its stderr, and its exit.
 *
 * Lifetime: the parent holds the write end of the child's stdin and never
 * writes; when the parent dies in any way (even SIGKILL) the pipe closes and
 * the child stops itself. A normal stop is SIGTERM, then SIGKILL after a grace
 * period; `killNow` is the synchronous last resort for process.on("exit").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { decodeEvent } from "./events.js";

export interface ShardChildOptions {
  index: number;
  count: number;
  /** node, its flags, the CLI file and the `shard` arguments. */
  execPath: string;
  args: string[];
  env: Record<string, string | undefined>;
  onProgress(percent: number): void;
  onStderr(line: string): void;
}

export interface Listening {
  port: number;
  rangeStart: number;
  rangeEnd: number;
  pid: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const TAIL_LINES = 20;

export class ChildExited extends Error {
  override readonly name = "ChildExited";
  constructor(
    readonly child: ShardChild,
    readonly exit: Exit,
  ) {
    super(`shard ${child.label} exited ${describeExit(exit)}${child.failure ? `: ${child.failure}` : ""}`);
  }
}

export class ShardChild {
  readonly label: string;
  readonly listening: Promise<Listening>;
  readonly ready: Promise<void>;
  readonly exited: Promise<Exit>;
  /** The message of a `failed` event, if the child sent one. */
  failure: string | null = null;
  private readonly process: ChildProcess;
  private readonly tail: string[] = [];

  constructor(options: ShardChildOptions) {
    this.label = `${options.index}/${options.count}`;
    this.process = spawn(options.execPath, options.args, { stdio: ["pipe", "pipe", "pipe"], env: options.env });
    this.exited = new Promise((resolve) => {
      // "close", not "exit": by then stderr has been read to the end, so the tail is complete.
      this.process.once("close", (code, signal) => resolve({ code, signal }));
      // spawn failed (e.g. no such executable): there may be no "close".
      this.process.once("error", (err) => {
        this.failure ??= err.message;
        if (this.process.pid === undefined) resolve({ code: null, signal: null });
      });
    });
    const died = this.exited.then((exit) => Promise.reject(new ChildExited(this, exit)));
    died.catch(() => {});

    let onListening: (l: Listening) => void = () => {};
    let onReady: () => void = () => {};
    const listening = new Promise<Listening>((resolve) => (onListening = resolve));
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    this.listening = Promise.race([listening, died]);
    this.ready = Promise.race([ready, died]);
    this.listening.catch(() => {});
    this.ready.catch(() => {});

    createInterface({ input: this.process.stdout! }).on("line", (line) => {
      const event = decodeEvent(line);
      if (event?.event === "listening") onListening(event);
      else if (event?.event === "loading") options.onProgress(event.percent);
      else if (event?.event === "ready") onReady();
      else if (event?.event === "failed") this.failure = event.message;
    });
    createInterface({ input: this.process.stderr! }).on("line", (line) => {
      this.tail.push(line);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
      options.onStderr(line);
    });
    // Never written: it only tells the child, by closing, that the parent is gone.
    this.process.stdin!.on("error", () => {});
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && this.process.pid !== undefined;
  }

  stderrTail(): readonly string[] {
    return this.tail;
  }

  /** SIGTERM (the child drains), then SIGKILL if it is still there after graceMs. */
  async terminate(graceMs: number): Promise<Exit> {
    if (this.running) this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.killNow(), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  killNow(): void {
    if (this.running) this.process.kill("SIGKILL");
  }
}

export function describeExit(exit: Exit): string {
  if (exit.signal) return `on ${exit.signal}`;
  return exit.code === null ? "before starting" : `with code ${exit.code}`;
}
