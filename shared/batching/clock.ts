/**
 * The time a batching queue schedules with, injected so that tests drive it
 * with a manual clock (test/helpers/manual-clock.ts) instead of sleeping.
 * `now` is monotonic milliseconds (not wall time): a queue measures waits, it
 * never compares against a calendar.
 */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Runs `fn` after the current turn of the event loop (after the I/O already read). */
  setImmediate(fn: () => void): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setImmediate: (fn) => void setImmediate(fn),
};
