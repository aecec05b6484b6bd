/**
 * Bytes on the wire between a gateway and its shards, counted by the kernel:
 * `ss -ti` reports bytes_sent / bytes_received of every TCP connection, so
 * the gateway's side of its connections to the shard ports gives the real
 * bytes both ways (HTTP/2 frames and headers included), with no hook in the
 * code under test. Linux only; null where `ss` is missing.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface WireCounters {
  /** Per connection (local → peer): gateway → shards, shards → gateway. */
  connections: Map<string, { sent: number; received: number }>;
}

export interface WireBytes {
  toShards: number;
  fromShards: number;
}

export async function wireCounters(shardPorts: readonly number[]): Promise<WireCounters | null> {
  if (shardPorts.length === 0) return { connections: new Map() };
  const filter = `( ${shardPorts.map((p) => `dport = :${p}`).join(" or ")} )`;
  let stdout: string;
  try {
    ({ stdout } = await run("ss", ["-tinH", "state", "established", filter]));
  } catch {
    return null;
  }
  const connections = new Map<string, { sent: number; received: number }>();
  let key: string | null = null;
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    if (!/^\s/.test(line)) {
      const fields = line.trim().split(/\s+/);
      key = `${fields[2]} → ${fields[3]}`;
      continue;
    }
    if (!key) continue;
    const sent = Number(/bytes_sent:(\d+)/.exec(line)?.[1] ?? 0);
    const received = Number(/bytes_received:(\d+)/.exec(line)?.[1] ?? 0);
    connections.set(key, { sent, received });
    key = null;
  }
  return { connections };
}

/** What moved between two snapshots (a connection opened in between counts from zero). */
export function wireDelta(before: WireCounters | null, after: WireCounters | null): WireBytes | null {
  if (!before || !after) return null;
  let toShards = 0;
  let fromShards = 0;
  for (const [key, now] of after.connections) {
    const then = before.connections.get(key) ?? { sent: 0, received: 0 };
    toShards += now.sent - then.sent;
    fromShards += now.received - then.received;
  }
  return { toShards, fromShards };
}
