/**
 * Per-range latency of answered Partials, and one quantile of it: when a
 * hedged Partial goes to a second replica (fanout.ts, --hedge-after pXX).
 *
 * A window of the last WINDOW answers per range, so the estimate follows load
 * as it changes; the quantile is recomputed every REFRESH answers rather than
 * per query (a sort of the window), so its cost per query is O(1) amortised
 * and a gateway with 64 ranges does not sort 64 windows per query. Until a
 * range has MIN_SAMPLES answers there is no estimate, and so no hedge: a cold
 * gateway does not double its load guessing.
 */
const WINDOW = 256;
const REFRESH = 32;
const MIN_SAMPLES = 20;

class Window {
  readonly samples = new Float64Array(WINDOW);
  count = 0;
  sinceRefresh = 0;
  quantileMs: number | null = null;
}

/** Parses "p95", "p99", "p99.9" into a quantile in (0, 1); "off" into null. */
export function parseHedgeAfter(text: string): number | null {
  if (text === "off") return null;
  const match = /^p(\d{1,2}(?:\.\d+)?)$/.exec(text);
  const percent = match ? Number(match[1]) : NaN;
  if (!(percent > 0 && percent < 100)) throw new RangeError(`expected off or pNN (a percentile in (0, 100), e.g. p95 or p99.9), got ${JSON.stringify(text)}`);
  return percent / 100;
}

export class LatencyQuantile {
  private readonly windows = new Map<string, Window>();

  constructor(readonly quantile: number) {
    if (!(quantile > 0 && quantile < 1)) throw new RangeError(`quantile must be in (0, 1), got ${quantile}`);
  }

  record(rangeKey: string, ms: number): void {
    let window = this.windows.get(rangeKey);
    if (!window) this.windows.set(rangeKey, (window = new Window()));
    window.samples[window.count % WINDOW] = ms;
    window.count++;
    if (window.count >= MIN_SAMPLES && (window.quantileMs === null || ++window.sinceRefresh >= REFRESH)) {
      window.sinceRefresh = 0;
      const sorted = window.samples.slice(0, Math.min(window.count, WINDOW)).sort();
      window.quantileMs = sorted[Math.min(sorted.length - 1, Math.floor(this.quantile * sorted.length))]!;
    }
  }

  /** The range's latency quantile in ms; null while it has too few answers. */
  ms(rangeKey: string): number | null {
    return this.windows.get(rangeKey)?.quantileMs ?? null;
  }
}
