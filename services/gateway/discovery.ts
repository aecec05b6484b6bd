/**
 * Where the gateway's shard addresses come from: fixed `HOST:PORT` entries,
 * and `dns:NAME:PORT` entries that are looked up again at most every
 * `resolveIntervalMs`. A Kubernetes headless Service resolves to the IP of
 * every *ready* pod behind it, so re-resolving is how scaled, moved and
 * restarted shard pods are picked up and vanished ones dropped; grouping the
 * addresses into ranges and replicas is the topology's job, from each
 * address's Info.
 */
import { lookup } from "node:dns/promises";
import { readFile } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";

export const DNS_PREFIX = "dns:";

/** Every IP address a name has now; [] when the name does not exist (yet). */
export type NameLookup = (name: string) => Promise<string[]>;

export interface DiscoveryOptions {
  resolveIntervalMs: number;
  lookup: NameLookup;
  log: Logger;
  now?: () => number;
}

export function isDnsEntry(entry: string): boolean {
  return entry.startsWith(DNS_PREFIX);
}

/** "dns:NAME:PORT" → { name, port }; the CLI has already checked the form. */
export function splitDnsEntry(entry: string): { name: string; port: number } {
  const rest = entry.slice(DNS_PREFIX.length);
  const at = rest.lastIndexOf(":");
  return { name: rest.slice(0, at), port: Number(rest.slice(at + 1)) };
}

export function joinHostPort(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The `resolve` of a ShardSet over `entries`. Between lookups the last answer
 * is reused, so the ShardSet may ask at its own (faster) refresh pace. A
 * lookup that fails for a transient reason keeps the previous addresses: a
 * DNS hiccup must not empty a serving gateway.
 */
export function shardResolver(entries: readonly string[], options: DiscoveryOptions): () => Promise<string[]> {
  const now = options.now ?? Date.now;
  const names = entries.filter(isDnsEntry).map(splitDnsEntry);
  const fixed = entries.filter((e) => !isDnsEntry(e));
  const last = new Map<string, string[]>();
  let lookedUpAt = -Infinity;

  const lookUpAll = async () => {
    await Promise.all(
      names.map(async ({ name, port }) => {
        const key = `${DNS_PREFIX}${name}:${port}`;
        try {
          const addresses = [...new Set(await options.lookup(name))].sort().map((ip) => joinHostPort(ip, port));
          const before = last.get(key);
          if (before === undefined || before.join() !== addresses.join()) {
            const fields = { addresses: addresses.join(",") || "none" };
            if (addresses.length === 0) options.log.warn(`${key} resolves to no address (no ready shard pod?)`, fields);
            else options.log.info(`${key} resolved`, { count: addresses.length, ...fields });
          }
          last.set(key, addresses);
        } catch (err) {
          options.log.warn(`cannot resolve ${key}; keeping the last answer`, { error: ShardmaxError.from(err).message, kept: last.get(key)?.length ?? 0 });
        }
      }),
    );
  };

  return async () => {
    if (names.length > 0 && now() - lookedUpAt >= options.resolveIntervalMs) {
      lookedUpAt = now();
      await lookUpAll();
    }
    return [...fixed, ...[...last.values()].flat()];
  };
}

/** Codes of a name that does not exist or has no address: an answer, not a failure. */
const NO_ADDRESS = new Set(["ENOTFOUND", "ENODATA"]);

/**
 * The system resolver (getaddrinfo, as gRPC's own DNS resolver uses): honours
 * the pod's search domains, so the short name of a Service in the same
 * namespace works. A headless Service with no ready pod does not exist in
 * DNS, which is an empty list, not an error.
 */
export const systemLookup: NameLookup = async (name) => {
  try {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((a) => a.address);
  } catch (err) {
    if (NO_ADDRESS.has((err as { code?: string }).code ?? "")) return [];
    throw err;
  }
};

/**
 * Looks names up in a hosts-format file (`IP NAME [ALIAS…]` per line, `#`
 * comments), read afresh on every lookup. Only for tests: it lets several
 * loopback addresses stand in for the pods behind one headless Service
 * without touching /etc/hosts or running a DNS server.
 */
export function hostsFileLookup(path: string): NameLookup {
  return async (name) => {
    const text = await readFile(path, "utf8");
    const wanted = name.replace(/\.$/, "").toLowerCase();
    const addresses: string[] = [];
    for (const line of text.split("\n")) {
      const [ip, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
      if (ip && names.some((n) => n.toLowerCase() === wanted)) addresses.push(ip);
    }
    return addresses;
  };
}
