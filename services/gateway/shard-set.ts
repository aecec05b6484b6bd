/**
 * Keeps the gateway's view of its shards current: resolves the address list
 * (see discovery.ts), asks every address for Info on an interval, and
 * rebuilds the topology. A shard that fails a query is marked unhealthy at
 * once; the next successful Info brings it back, so a restarted shard is
 * picked up again without any operator action.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import { type ShardChannel, ShardClient, type ShardTransport } from "./shard-client.js";
import { type AddressState, buildTopology, type Topology } from "./topology.js";

export interface ShardSetOptions {
  /** Returns the current shard addresses (host:port). */
  resolve: () => Promise<string[]>;
  refreshMs: number;
  infoDeadlineMs: number;
  maxMessageBytes: number;
  log: Logger;
  /** The addresses are "every ready pod" (DNS discovery): a gap is a range that is down, not misconfigured. */
  gapsAreMissingShards?: boolean;
  /** Passed to buildTopology: whether reasons may name addresses. */
  exposeTopology?: boolean;
  /** How long the client of a vanished address stays open for calls already under way: the query deadline. */
  retireAfterMs?: number;
  /** TLS to the shards (shared/grpc/tls.ts); unset: plaintext. */
  channel?: ShardChannel | undefined;
  /** How Partials travel to the shards (shard-client.ts); a PartialStream per address by default. */
  shardTransport?: ShardTransport | undefined;
}

const DEFAULT_RETIRE_AFTER_MS = 10_000;

export class ShardSet {
  private readonly clients = new Map<string, ShardClient>();
  private readonly states = new Map<string, AddressState>();
  /** Clients of vanished addresses, closed once calls already under way are done. */
  private readonly retiring = new Map<string, NodeJS.Timeout>();
  private topologyNow: Topology = buildTopology([]);
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private lastReason = "";
  /** Fingerprint of the head served last, preferred while it still covers [0, V) (rolling updates). */
  private served: string | null = null;
  private readonly listeners: ((topology: Topology) => void)[] = [];

  constructor(private readonly options: ShardSetOptions) {}

  get topology(): Topology {
    return this.topologyNow;
  }

  client(address: string): ShardClient {
    const client = this.clients.get(address);
    if (!client) throw new ShardmaxError("INTERNAL", `no client for shard ${address}`);
    return client;
  }

  /** First refresh, then one every refreshMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** Called on every rebuild, e.g. to mirror readiness into the gRPC health service. */
  onChange(listener: (topology: Topology) => void): void {
    this.listeners.push(listener);
    listener(this.topologyNow);
  }

  markFailed(address: string, error: ShardmaxError): void {
    const state = this.states.get(address);
    if (!state?.healthy) return;
    state.healthy = false;
    state.error = error.message;
    this.rebuild();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const timer of this.retiring.values()) clearTimeout(timer);
    for (const client of this.clients.values()) client.close();
  }

  private async refreshOnce(): Promise<void> {
    let addresses: string[];
    try {
      addresses = [...new Set(await this.options.resolve())];
    } catch (err) {
      this.options.log.warn("cannot resolve shard addresses", { error: ShardmaxError.from(err).message });
      return;
    }
    for (const address of addresses) {
      if (this.states.has(address)) continue;
      clearTimeout(this.retiring.get(address));
      this.retiring.delete(address);
      if (!this.clients.has(address))
        this.clients.set(address, new ShardClient(address, this.options.maxMessageBytes, this.options.channel, this.options.shardTransport));
      this.states.set(address, { address, info: null, healthy: false, error: null });
    }
    const vanished = [...this.states.keys()].filter((address) => !addresses.includes(address));
    for (const address of vanished) this.retire(address);
    // Out of the topology now, not after the Info round: no new query may pick a vanished address.
    if (vanished.length > 0) this.rebuild();
    await Promise.all(addresses.map((address) => this.check(address)));
    this.rebuild();
  }

  /**
   * A vanished address leaves the topology at once, but its client stays open
   * a while: queries that picked it from an earlier topology are still calling
   * it (a terminating pod keeps serving through its preStop pause and drain).
   */
  private retire(address: string): void {
    this.states.delete(address);
    const timer = setTimeout(() => {
      this.retiring.delete(address);
      this.clients.get(address)?.close();
      this.clients.delete(address);
    }, this.options.retireAfterMs ?? DEFAULT_RETIRE_AFTER_MS);
    timer.unref();
    this.retiring.set(address, timer);
  }

  private async check(address: string): Promise<void> {
    const client = this.clients.get(address);
    const state = this.states.get(address);
    if (!client || !state) return;
    try {
      state.info = await client.info(this.options.infoDeadlineMs);
      state.healthy = true;
      state.error = null;
    } catch (err) {
      state.healthy = false;
      state.error = ShardmaxError.from(err).message;
    }
  }

  private rebuild(): void {
    this.topologyNow = buildTopology([...this.states.values()], {
      preferred: this.served,
      gapsAreMissingShards: this.options.gapsAreMissingShards,
      exposeTopology: this.options.exposeTopology,
    });
    if (this.topologyNow.ready) this.served = this.topologyNow.model.fingerprint;
    for (const listener of this.listeners) listener(this.topologyNow);
    const reason = this.topologyNow.ready ? `ready ${this.topologyNow.model.fingerprint}` : this.topologyNow.reason;
    if (reason !== this.lastReason) {
      if (this.topologyNow.ready)
        this.options.log.info("ready", {
          V: this.topologyNow.model.vocabSize,
          ranges: this.topologyNow.ranges.length,
          fingerprint: this.topologyNow.model.fingerprint,
        });
      else this.options.log.warn("not ready", { reason });
      this.lastReason = reason;
    }
  }
}
