/**
 * The channel from a shard child to `shardmax local`: with the hidden
 * `--events` switch, `shardmax shard` writes one JSON object per line to
 * stdout (logs stay on stderr). The parent needs them because the child binds
 * port 0, so only the child knows its port; loading progress and readiness
 * ride along so the parent can show them without polling.
 */
export type ShardEvent =
  | { event: "listening"; port: number; rangeStart: number; rangeEnd: number; pid: number; metricsPort?: number }
  | { event: "loading"; percent: number }
  | { event: "ready" }
  | { event: "failed"; message: string };

export function encodeEvent(event: ShardEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** Parses one stdout line; anything that is not an event (stray output) gives null. */
export function decodeEvent(line: string): ShardEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const e = value as Record<string, unknown>;
  const isInt = (x: unknown) => Number.isSafeInteger(x);
  switch (e.event) {
    case "listening":
      return isInt(e.port) && isInt(e.rangeStart) && isInt(e.rangeEnd) && isInt(e.pid) ? (e as ShardEvent) : null;
    case "loading":
      return typeof e.percent === "number" ? (e as ShardEvent) : null;
    case "ready":
      return { event: "ready" };
    case "failed":
      return typeof e.message === "string" ? (e as ShardEvent) : null;
    default:
      return null;
  }
}
