/**
 * Runs one shard: listen first (health NOT_SERVING), load only this shard's
 * rows with progress in the log, fingerprint the head, build the session,
 * then report SERVING. Config arrives parsed and frozen from the CLI.
 */
import { openHead } from "../../shared/checkpoint/open-head.js";
import type { Logger } from "../../shared/log.js";
import { ClassRange, splitRange } from "../../shared/ranges.js";
import { ShardServer } from "./server.js";
import { ShardSession } from "./session.js";

export type RangeSpec = { kind: "split"; index: number; count: number } | { kind: "range"; start: number; end: number };

export interface ShardConfig {
  weights: string;
  tensor?: string;
  bias?: string;
  range: RangeSpec;
  listen: string;
  threads: number;
  maxRows: number;
  maxTopK: number;
  maxMessageBytes: number;
  drainMs: number;
}

export interface RunningShard {
  port: number;
  range: ClassRange;
  /** Resolves once the slice is loaded and the shard is serving. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function resolveRange(spec: RangeSpec, vocabSize: number): ClassRange {
  if (spec.kind === "split") return splitRange(vocabSize, spec.index, spec.count);
  if (spec.end > vocabSize) throw new RangeError(`range [${spec.start}, ${spec.end}) goes beyond V=${vocabSize}`);
  return ClassRange.of(spec.start, spec.end);
}

/** `onProgress` sees the loading percentage (for `shardmax local`'s progress display). */
export async function runShard(config: ShardConfig, log: Logger, onProgress?: (percent: number) => void): Promise<RunningShard> {
  const head = await openHead(config.weights, { tensor: config.tensor, bias: config.bias });
  const { vocabSize, dim, dtype } = head.description;
  const range = resolveRange(config.range, vocabSize);
  const server = new ShardServer({ maxRows: config.maxRows, maxTopK: config.maxTopK, maxMessageBytes: config.maxMessageBytes, log });
  const port = await server.listen(config.listen);
  log.info("listening, loading slice", { port, range: `${range}`, V: vocabSize, d: dim, dtype, source: head.description.source });

  let session: ShardSession | null = null;
  const ready = (async () => {
    const started = Date.now();
    let lastLog = 0;
    let lastPercent = -1;
    const slice = await head.readRows(range, (done, total) => {
      const percent = Math.floor((100 * done) / total);
      server.setLoading(`loading ${percent}%`);
      if (percent !== lastPercent) onProgress?.(percent);
      lastPercent = percent;
      if (Date.now() - lastLog > 1000 || done === total) {
        lastLog = Date.now();
        const seconds = (Date.now() - started) / 1000;
        log.info("loading", { percent, MB: Math.round(done / 1e6), "MB/s": seconds > 0 ? Math.round(done / 1e6 / seconds) : undefined });
      }
    });
    server.setLoading("fingerprinting");
    const fingerprint = await head.fingerprint();
    server.setLoading("building session");
    session = await ShardSession.create(range, { rows: range.size, dim, weight: slice.weight, bias: slice.bias }, { threads: config.threads });
    await head.close();
    const shardSession = session;
    server.setReady({
      range,
      vocabSize,
      dim,
      fingerprint,
      dtype,
      hasBias: slice.bias !== null,
      source: head.description.source,
      run: (batch) => shardSession.run(batch),
    });
    log.info("serving", { range: `${range}`, fingerprint, seconds: ((Date.now() - started) / 1000).toFixed(1) });
  })();
  ready.catch(() => {}); // the caller awaits `ready`; avoid an unhandled rejection before it does

  return {
    port,
    range,
    ready,
    async stop() {
      await server.shutdown(config.drainMs);
      await (session as ShardSession | null)?.close();
    },
  };
}
