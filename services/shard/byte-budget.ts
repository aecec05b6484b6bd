/**
 * A bound on the bytes several callers may hold at once, granted first come,
 * first served: a caller over the budget waits until enough is released (or
 * its signal aborts). Used for the logits groups of Shard.Logits streams, so
 * that many open distribution streams (each held by its own, maybe slow,
 * client) cost a shard at most the budget, not 16 MiB each.
 */
import { ShardmaxError } from "../../shared/errors.js";

interface Waiter {
  bytes: number;
  grant: () => void;
}

export class ByteBudget {
  private used = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Resolves once `bytes` are granted; a request larger than the whole budget is granted alone (when nothing else is held). */
  acquire(bytes: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new ShardmaxError("CANCELLED", "the call went away while waiting for memory"));
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new ShardmaxError("CANCELLED", "the call went away while waiting for memory"));
        this.grantWaiting();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(bytes: number): void {
    this.used -= bytes;
    this.grantWaiting();
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limitBytes;
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}
