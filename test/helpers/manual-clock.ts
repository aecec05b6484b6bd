/**
 * A clock whose time moves only when a test says so (`advance`), for the
 * batching queue's timers: a test states "20 ms later" instead of sleeping,
 * so it neither waits nor depends on the machine's speed. A turn of the event
 * loop stays a real one (`setImmediate`): it orders work, it does not measure
 * time, and `turn()` lets a test wait for the turns already scheduled.
 */
import type { Clock, TimerHandle } from "../../shared/batching/clock.js";

interface Timer {
  id: number;
  atMs: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private ms = 0;
  private nextId = 1;
  private timers: Timer[] = [];

  now(): number {
    return this.ms;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, atMs: this.ms + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  setImmediate(fn: () => void): void {
    setImmediate(fn);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing the timers due on the way in time order, each after the turns it caused. */
  async advance(ms: number): Promise<void> {
    const until = this.ms + ms;
    for (;;) {
      await this.turn();
      const due = this.timers.filter((t) => t.atMs <= until).sort((a, b) => a.atMs - b.atMs || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = due.atMs;
      due.fn();
    }
    this.ms = until;
    await this.turn();
  }

  /** Lets the promise callbacks and the event-loop turns already scheduled run (a few rounds, for chains of them). */
  async turn(rounds = 3): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
  }
}
