/**
 * Gateway-side batching: queries that arrive together are sent to the shards
 * as one Partial per range, and each query gets its own rows back. The queue
 * policy (when a batch goes, lingering for the callers just answered, the
 * stall rule, isolation, deadlines) is shared/batching/batch-queue.ts; this
 * file is the data handling.
 *
 * At most `maxInFlight` batches are out at once (one). After a batch is
 * answered the next waits up to `lingerUs` for as many queries as were just
 * answered: answering 32 queries and getting the next 32 back takes the
 * gateway and the callers several milliseconds on a busy machine, so the
 * default waits up to 20 ms (`--linger-us`); see the README for the figures.
 * Queries share a batch only when the Partial can carry them all: same
 * topology, head and dimension (temperature and sampling options travel per
 * row, so they never keep queries apart); a query is never cut (a shard
 * cuts what is larger than its batch). The batch asks for the largest top-k
 * and each query keeps the prefix it asked for (exact, since a shard's top-k
 * list is sorted). A batch that fails is retried query by query, all at
 * once, so only a query that fails alone gets an error. Each query keeps its
 * own deadline.
 */

import { type BatchObserver, BatchQueue } from "../../shared/batching/batch-queue.js";
import { type Clock, realClock } from "../../shared/batching/clock.js";
import type { FlatTargets } from "../../shared/math/combine-partials.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { slicePartial } from "../../shared/math/partial-slice.js";
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
  /** Told of queue waits (shardmax_coalesce_wait_seconds). */
  observer?: BatchObserver;
}

export const COALESCER_DEFAULTS: CoalescerOptions = { maxBatchRows: 256, maxInFlight: 1, stallMs: 1000, maxStalled: 8, lingerUs: 20000 };

export class CoalescingFanOut {
  private readonly queue: BatchQueue<Args, BatchPartial[]>;

  constructor(
    private readonly inner: Pick<FanOut, "partials" | "stats">,
    options: CoalescerOptions = COALESCER_DEFAULTS,
    private readonly clock: Clock = realClock,
  ) {
    const { maxBatchRows, maxInFlight, stallMs, maxStalled, lingerUs, observer } = options;
    this.queue = new BatchQueue<Args, BatchPartial[]>(
      {
        rows: (args) => args[1].rows,
        maxRows: ([topology]) => topology.info.maxRows || Infinity,
        compatible: ([topology, first], [otherTopology, call]) =>
          topology === otherTopology && call.dim === first.dim && call.fingerprint === first.fingerprint,
        run: (pieces) => this.send(pieces.map((p) => p.item)),
      },
      { maxBatchRows, maxQueueRows: Infinity, lingerUs, maxInFlight, stallMs, maxStalled, cut: false, isolation: "at-once", name: "gateway queue", observer },
      clock,
    );
  }

  /** The counters of the fan-out behind the coalescer. */
  get stats(): FanOutStats {
    return this.inner.stats;
  }

  partials(...args: Args): Promise<BatchPartial[]> {
    const deadline = args[3];
    return this.queue.push(args, { deadlineMs: this.clock.now() + deadline.getTime() - Date.now() });
  }

  /** One Partial per range for the whole group; each query's own rows, targets and top-k cut back out. */
  private async send(group: Args[]): Promise<BatchPartial[][]> {
    if (group.length === 1) return [await this.inner.partials(...group[0]!)];
    const [topology, first] = group[0]!;
    const rows = group.reduce((n, w) => n + w[1].rows, 0);
    const hidden = new Float32Array(rows * first.dim);
    let at = 0;
    for (const w of group) {
      hidden.set(w[1].hidden, at);
      at += w[1].hidden.length;
    }
    const routed = topology.map.ranges.map((_, r) => joinRouted(group.map((w) => w[2][r]!)));
    const topK = Math.max(...group.map((w) => w[1].topK));
    const options = joinOptions(
      group.map((w) => w[1].options),
      group.map((w) => w[1].rows),
    );
    const deadline = new Date(Math.max(...group.map((w) => w[3].getTime())));
    const timed = group.filter((w) => w[1].onRangeTime);
    const onRangeTime = timed.length === 0 ? {} : { onRangeTime: (range: string, ms: number) => timed.forEach((w) => w[1].onRangeTime!(range, ms)) };
    const partials = await this.inner.partials(topology, { ...first, rows, hidden, topK, options, ...onRangeTime }, routed, deadline);
    let row = 0;
    return group.map(([, call]) => {
      const mine = partials.map((p) => slicePartial(p, { row, rows: call.rows, topK: call.topK }));
      row += call.rows;
      return mine;
    });
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
