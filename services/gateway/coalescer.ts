/**
 * Gateway-side batching: queries that arrive together are sent to the shards
 * as one Partial per range, and each query gets its own rows back.
 *
 * The shards batch anyway; doing it here as well means one gRPC call per
 * range per batch instead of one per query — on the gateway and in every
 * shard's event loop that per-call cost is most of the CPU spent outside
 * onnxruntime — and every shard sees the same batch at the same moment, so
 * no range lags the others. At most `maxInFlight` batches are out at once
 * (one); queries arriving meanwhile form the next batch. After a batch is
 * answered, the next one waits up to `lingerUs` for as many queries as were
 * just answered, and goes as soon as they are there; otherwise closed-loop
 * callers (an autoregressive decoder waits for each answer before it asks
 * again) split into cohorts that alternate in half-size batches. Answering 32
 * queries and getting the next 32 back takes the gateway and the callers
 * several milliseconds on a busy machine, so the default waits up to 20 ms
 * (`--linger-us`): on 2 shards of the LLM head at 32 batch-1 callers, 5 ms
 * left runs of ~16 rows (368 rows/s, p50 99 ms) and 20 ms gives runs of 32
 * (415 rows/s, p50 73 ms); at 4 callers it changes nothing. It does not
 * wait when the queries already waiting fill a batch, or when some were left
 * out of the last one (too many rows, another temperature): more arrivals
 * cannot help then. Open-loop traffic with a few queries already waiting pays
 * up to that wait per batch; lower the flag there. A query that
 * arrives with no batch answered recently is sent at once. Queries share a batch only when the Partial can carry them all:
 * same topology, head and dimension (temperature and sampling travel per row); the batch asks for the
 * largest top-k and each query keeps the prefix it asked for (exact, since a
 * shard's top-k list is sorted). A batch that fails is retried query by
 * query, so only a query that fails alone gets an error. Each query keeps
 * its own deadline.
 */
import { ShardmaxError } from "../../shared/errors.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { slicePartial } from "../../shared/math/partial-slice.js";
import type { FlatTargets } from "../../shared/math/combine-partials.js";
import { joinOptions } from "../../shared/math/row-options.js";
import type { FanOut, FanOutStats } from "./fanout.js";

type Partials = FanOut["partials"];
type Args = Parameters<Partials>;

export interface CoalescerOptions {
  /** Most rows in one coalesced Partial (never above what the shards accept per call). */
  maxBatchRows: number;
  maxInFlight: number;
  /**
   * A batch out longer than this stops counting toward `maxInFlight`: its replica may be hung (SIGSTOP, a
   * stalled node), and the queries behind it must not wait for it. The next batch then goes, and the fan-out
   * sends it to the replica with the fewest calls outstanding, i.e. not the hung one.
   */
  stallMs: number;
  /** Most stalled batches at once; past it new queries wait as before (bounded memory under a hung range). */
  maxStalled: number;
  /** After a batch is answered, how long the next may wait for the queries its callers send next. */
  lingerUs: number;
}

export const COALESCER_DEFAULTS: CoalescerOptions = { maxBatchRows: 256, maxInFlight: 1, stallMs: 1000, maxStalled: 8, lingerUs: 20000 };

interface Waiting {
  args: Args;
  enqueuedMs: number;
  settled: boolean;
  resolve(partials: BatchPartial[]): void;
  reject(error: unknown): void;
}

export class CoalescingFanOut {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private stalled = 0;
  private scheduled = false;
  /** Set when a batch is answered: when, how many queries it answered, how many have arrived since. */
  private afterBatch: { doneMs: number; answered: number; arrived: number } | null = null;
  private lingering: NodeJS.Timeout | null = null;

  constructor(
    private readonly inner: Pick<FanOut, "partials" | "stats">,
    private readonly options: CoalescerOptions = COALESCER_DEFAULTS,
  ) {}

  /** The counters of the fan-out behind the coalescer. */
  get stats(): FanOutStats {
    return this.inner.stats;
  }

  partials(...args: Args): Promise<BatchPartial[]> {
    return new Promise((resolve, reject) => {
      const entry: Waiting = { args, enqueuedMs: performance.now(), settled: false, resolve, reject };
      const deadline = args[3];
      const timer = setTimeout(() => this.settle(entry, new ShardmaxError("DEADLINE_EXCEEDED", "the query did not finish within its deadline")), Math.max(0, deadline.getTime() - Date.now()));
      entry.resolve = (partials) => {
        clearTimeout(timer);
        resolve(partials);
      };
      entry.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.waiting.push(entry);
      if (this.afterBatch) this.afterBatch.arrived++;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.waiting.length === 0) return;
    const after = this.afterBatch;
    const waitMs = after && after.arrived < after.answered && !this.fullBatchWaits() ? after.doneMs + this.options.lingerUs / 1000 - performance.now() : 0;
    if (waitMs > 0) {
      // The callers just answered usually send their next query within milliseconds: let them join.
      this.lingering ??= setTimeout(() => {
        this.lingering = null;
        this.afterBatch = null;
        this.schedule();
      }, waitMs);
      return;
    }
    if (this.lingering) clearTimeout(this.lingering);
    this.lingering = null;
    this.afterBatch = null;
    this.scheduled = true;
    // One turn of the event loop, so queries that arrived in the same read share the batch.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
        const dispatchedMs = performance.now();
        const group = this.take();
        if (group.length === 0) continue;
        this.inFlight++;
        let counted = true;
        const stall = setTimeout(() => {
          if (this.stalled >= this.options.maxStalled) return;
          counted = false;
          this.inFlight--;
          this.stalled++;
          this.schedule();
        }, this.options.stallMs);
        void this.send(group).finally(() => {
          clearTimeout(stall);
          if (counted) this.inFlight--;
          else this.stalled--;
          // Queries that were already waiting but did not fit this batch (rows, temperature…) go next
          // without a wait: the callers just answered may well be waiting for them.
          const leftBehind = this.waiting.some((w) => !w.settled && w.enqueuedMs <= dispatchedMs);
          const doneMs = performance.now();
          this.afterBatch = leftBehind ? null : { doneMs, answered: group.length, arrived: 0 };
          this.schedule();
        });
      }
    });
  }

  /** Whether the queries waiting already fill a batch, so waiting for more cannot make it larger. */
  private fullBatchWaits(): boolean {
    const first = this.waiting.find((w) => !w.settled);
    if (!first) return false;
    const limit = Math.min(this.options.maxBatchRows, first.args[0].info.maxRows || Infinity);
    let rows = 0;
    for (const w of this.waiting) if (!w.settled) rows += w.args[1].rows;
    return rows >= limit;
  }

  /** The first live query and the later ones that can share its Partial, up to the row limit. */
  private take(): Waiting[] {
    const group: Waiting[] = [];
    let rows = 0;
    for (let i = 0; i < this.waiting.length; ) {
      const entry = this.waiting[i]!;
      if (entry.settled) {
        this.waiting.splice(i, 1);
        continue;
      }
      const [topology, call] = entry.args;
      const first = group[0]?.args;
      const limit = Math.min(this.options.maxBatchRows, topology.info.maxRows || Infinity);
      const fits = !first || (topology === first[0] && call.dim === first[1].dim && call.fingerprint === first[1].fingerprint && rows + call.rows <= limit);
      if (!fits) {
        i++;
        continue;
      }
      group.push(entry);
      rows += call.rows;
      this.waiting.splice(i, 1);
    }
    return group;
  }

  private async send(group: Waiting[]): Promise<void> {
    if (group.length === 1) return this.alone(group[0]!);
    const [topology, first] = group[0]!.args;
    const rows = group.reduce((n, w) => n + w.args[1].rows, 0);
    const hidden = new Float32Array(rows * first.dim);
    let at = 0;
    for (const w of group) {
      hidden.set(w.args[1].hidden, at);
      at += w.args[1].hidden.length;
    }
    const routed = topology.map.ranges.map((_, r) => joinRouted(group.map((w) => w.args[2][r]!)));
    const topK = Math.max(...group.map((w) => w.args[1].topK));
    const options = joinOptions(
      group.map((w) => w.args[1].options),
      group.map((w) => w.args[1].rows),
    );
    const deadline = new Date(Math.max(...group.map((w) => w.args[3].getTime())));
    let partials: BatchPartial[];
    try {
      partials = await this.inner.partials(topology, { ...first, rows, hidden, topK, options }, routed, deadline);
    } catch {
      await Promise.all(group.map((w) => this.alone(w)));
      return;
    }
    let row = 0;
    for (const w of group) {
      const [, call] = w.args;
      const mine = partials.map((p) => slicePartial(p, { row, rows: call.rows, topK: call.topK }));
      row += call.rows;
      this.settle(w, null, mine);
    }
  }

  private async alone(entry: Waiting): Promise<void> {
    if (entry.settled) return;
    await this.inner.partials(...entry.args).then(
      (partials) => this.settle(entry, null, partials),
      (err: unknown) => this.settle(entry, err),
    );
  }

  private settle(entry: Waiting, error: unknown, partials?: BatchPartial[]): void {
    if (entry.settled) return;
    entry.settled = true;
    if (partials) entry.resolve(partials);
    else entry.reject(error);
  }
}

function joinRouted(parts: readonly FlatTargets[]): FlatTargets {
  const counts = new Uint32Array(parts.reduce((n, p) => n + p.counts.length, 0));
  const ids = new Uint32Array(parts.reduce((n, p) => n + p.ids.length, 0));
  let c = 0;
  let i = 0;
  for (const p of parts) {
    counts.set(p.counts, c);
    ids.set(p.ids, i);
    c += p.counts.length;
    i += p.ids.length;
  }
  return { counts, ids };
}
