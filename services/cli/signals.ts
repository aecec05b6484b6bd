/**
 * Stop requests for the long-running commands. The first SIGTERM or SIGINT
 * starts a graceful stop (drain, then exit 0); a second one exits at once, for
 * the operator who does not want to wait out the drain.
 */
export interface StopOptions {
  /**
   * Ignore SIGINT: a `local` child shares the terminal's process group, so
   * Ctrl-C reaches it too, but its parent decides when and how it stops.
   */
  ignoreInterrupt?: boolean;
  /** Other reasons to stop, e.g. the parent's pipe closing. */
  alsoOn?: Promise<string>[];
  onForce?: (signal: string) => void;
}

export function waitForStop(options: StopOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stopping) {
        stopping = true;
        resolve(signal);
        return;
      }
      options.onForce?.(signal);
      process.exit(1);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", options.ignoreInterrupt ? () => {} : onSignal);
    for (const reason of options.alsoOn ?? []) {
      void reason.then((why) => {
        if (stopping) return;
        stopping = true;
        resolve(why);
      });
    }
  });
}
