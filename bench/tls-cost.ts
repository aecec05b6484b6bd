/**
 * `npm run bench -- --only tls`: what TLS and mutual TLS cost. Three clusters
 * of real processes (2 shards + gateway each) on the same head: plaintext,
 * TLS (client → gateway and gateway → shards), and mutual TLS on both hops.
 * In alternating rounds (the machine drifts between minutes), each is measured
 * at 1 caller (p50 latency of 1-row queries) and at 32 callers (rows/s).
 */
import { Cluster, type Security } from "./cluster.js";
import { hiddenPool, type LoadResult, runLoad } from "./load.js";

export const TLS_WEIGHTS = "builtin:65536x256";
const SECURITIES: Security[] = ["plaintext", "tls", "mtls"];

export interface TlsMeasurement {
  round: number;
  security: Security;
  c1: LoadResult;
  c32: LoadResult;
}

export async function runTlsCost(rounds: number, measureMs: number, say: (line: string) => void): Promise<TlsMeasurement[]> {
  const clusters = new Map<Security, Cluster>();
  try {
    for (const security of SECURITIES) {
      const cluster = new Cluster({ weights: TLS_WEIGHTS, shards: 2, threads: 1, security });
      await cluster.start();
      clusters.set(security, cluster);
    }
    const dim = 256;
    const pool = hiddenPool(dim, 512, 3);
    const out: TlsMeasurement[] = [];
    for (let round = 1; round <= rounds; round++) {
      // The order rotates each round: the first measured after a pause and the one after a heavy point are not always the same.
      const order = SECURITIES.map((_, i) => SECURITIES[(i + round - 1) % SECURITIES.length]!);
      for (const security of order) {
        const cluster = clusters.get(security)!;
        const options = cluster.clientOptions();
        const c1 = await runLoad(cluster.grpcAddress, dim, pool, { rows: 1, concurrency: 1, warmupMs: 1000, measureMs, topK: 5 }, options);
        const c32 = await runLoad(cluster.grpcAddress, dim, pool, { rows: 1, concurrency: 32, warmupMs: 1000, measureMs, topK: 5 }, options);
        say(`tls: round ${round} ${security}: c=1 p50 ${c1.p50Ms.toFixed(2)} ms · c=32 ${c32.rowsPerS.toFixed(0)} rows/s (errors ${c1.errors + c32.errors})`);
        out.push({ round, security, c1, c32 });
      }
    }
    return out;
  } finally {
    await Promise.all([...clusters.values()].map((c) => c.stop()));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The REPORT.md section: per round, and the median ratio of each to plaintext of the same round. */
export function tlsSection(ms: TlsMeasurement[], command: string, loadAverage: string): string {
  const rounds = [...new Set(ms.map((m) => m.round))];
  const at = (round: number, security: Security) => ms.find((m) => m.round === round && m.security === security)!;
  const ratio = (security: Security, pick: (m: TlsMeasurement) => number) => median(rounds.map((r) => pick(at(r, security)) / pick(at(r, "plaintext"))));
  const lines = [
    `## Cost of TLS (\`${command}\`)`,
    "",
    `Three clusters on ${TLS_WEIGHTS} (2 shard processes + 1 gateway process each): plaintext, TLS on both hops (client → gateway, gateway → shards), ` +
      `and mutual TLS on both. 1-row queries over gRPC through the SDK, in ${rounds.length} alternating rounds. Ratios are to plaintext in the same round, median over rounds. ` +
      `Load average during the run: ${loadAverage} (the machine is shared).`,
    "",
    "| round | security | c=1 p50 ms | c=1 p99 ms | c=32 rows/s | c=32 p50 ms |",
    "| --- | --- | --- | --- | --- | --- |",
    ...ms.map(
      (m) => `| ${m.round} | ${m.security} | ${m.c1.p50Ms.toFixed(2)} | ${m.c1.p99Ms.toFixed(2)} | ${m.c32.rowsPerS.toFixed(0)} | ${m.c32.p50Ms.toFixed(2)} |`,
    ),
    "",
    ...(["tls", "mtls"] as const).map(
      (s) =>
        `- ${s === "tls" ? "TLS" : "mutual TLS"}: c=1 p50 × ${ratio(s, (m) => m.c1.p50Ms).toFixed(3)}, rows/s at 32 callers × ${ratio(s, (m) => m.c32.rowsPerS).toFixed(3)}`,
    ),
    "",
  ];
  return lines.join("\n");
}
