/**
 * Files re-read when they change on disk: TLS certificates and API-key files,
 * which Kubernetes rotates by swapping a symlink inside the mounted folder
 * (`..data`), so each file's folder is watched, not the file. `fs.watch` is
 * not reliable on every filesystem (network mounts, some containers), so a
 * poll backs it up. A new version is taken only when `load` accepts it: a
 * half-written certificate or key keeps the last good one in service.
 */
import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, statSync, watch } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ShardmaxError } from "../errors.js";

/** Certificates, keys and key lists are a few KiB; the bound stops a wrong path (a log, a device) from being read whole. */
export const MAX_WATCHED_FILE_BYTES = 1024 * 1024;

function tooLarge(path: string, size: number): ShardmaxError {
  return new ShardmaxError("INVALID_ARGUMENT", `${path}: is ${size} bytes, over the ${MAX_WATCHED_FILE_BYTES}-byte limit for certificate and key files`);
}

export interface WatchedFilesOptions<T> {
  /** Turns the files' bytes (in the order of `paths`) into a value; throws if they are not usable. */
  load: (contents: Buffer[]) => T;
  /** Called with each new accepted value (not the first). */
  onChange?: (value: T) => void;
  /** Called when changed files could not be loaded; the last good value stays. */
  onRejected?: (error: Error) => void;
  /** Poll interval backing up fs.watch. */
  pollMs: number;
}

export class WatchedFiles<T> {
  private valueNow: T;
  private digest: string;
  private readonly watchers: FSWatcher[] = [];
  private readonly poll: NodeJS.Timeout;
  private checking = false;
  private again = false;
  private closed = false;

  /** Reads and loads the files now; an unreadable or unusable file is an error naming it. */
  constructor(
    private readonly paths: readonly string[],
    private readonly options: WatchedFilesOptions<T>,
  ) {
    const contents = paths.map((path) => {
      let size: number;
      try {
        size = statSync(path).size;
      } catch (err) {
        throw new ShardmaxError("INVALID_ARGUMENT", `${path}: cannot read (${(err as Error).message})`, { cause: err });
      }
      if (size > MAX_WATCHED_FILE_BYTES) throw tooLarge(path, size);
      try {
        return readFileSync(path);
      } catch (err) {
        throw new ShardmaxError("INVALID_ARGUMENT", `${path}: cannot read (${(err as Error).message})`, { cause: err });
      }
    });
    this.valueNow = options.load(contents);
    this.digest = digestOf(contents);
    for (const folder of new Set(paths.map((path) => dirname(path)))) {
      try {
        const watcher = watch(folder, { persistent: false }, () => this.check());
        watcher.on("error", () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // The poll covers it.
      }
    }
    this.poll = setInterval(() => this.check(), options.pollMs);
    this.poll.unref();
  }

  get value(): T {
    return this.valueNow;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    for (const watcher of this.watchers) watcher.close();
  }

  /** Re-reads now (what a change event or the poll does); resolves when done. */
  async check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        await this.reload();
      } while (this.again && !this.closed);
    } finally {
      this.checking = false;
    }
  }

  private async reload(): Promise<void> {
    let contents: Buffer[];
    try {
      contents = await Promise.all(
        this.paths.map(async (path) => {
          const { size } = await stat(path);
          if (size > MAX_WATCHED_FILE_BYTES) throw tooLarge(path, size);
          return readFile(path);
        }),
      );
    } catch (err) {
      // Mid-swap a file may be missing for a moment; the next event or poll sees the new one.
      if (!this.closed) this.options.onRejected?.(err as Error);
      return;
    }
    const digest = digestOf(contents);
    if (this.closed || digest === this.digest) return;
    let value: T;
    try {
      value = this.options.load(contents);
    } catch (err) {
      this.options.onRejected?.(err as Error);
      return;
    }
    this.digest = digest;
    this.valueNow = value;
    this.options.onChange?.(value);
  }
}

function digestOf(contents: Buffer[]): string {
  const hash = createHash("sha256");
  for (const c of contents) hash.update(createHash("sha256").update(c).digest());
  return hash.digest("hex");
}
