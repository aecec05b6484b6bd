/**
 * Runs one shard: listen first (health NOT_SERVING), load only this shard's
 * rows with progress in the log, fingerprint the head, build the session,
 * then report SERVING. Config arrives parsed and frozen from the CLI.
 */
import { openHead } from "../../shared/checkpoint/open-head.js";
import type { Logger } from "../../shared/log.js";
import { ClassRange, splitRange } from "../../shared/ranges.js";
import { ShardServer } from "./server.js";
import { ShardSession, type SliceSource } from "./session.js";

export type RangeSpec = { kind: "split"; index: number; count: number } | { kind: "range"; start: number; end: number };

export interface ShardConfig {
  weights: string;
  tensor?: string;
  bias?: string;
  range: RangeSpec;
  listen: string;
  threads: number;
  /** Rows per onnxruntime block; unset chooses from the slice size (block-plan.ts). */
  blockRows?: number;
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
  let range: ClassRange;
  try {
    range = resolveRange(config.range, vocabSize);
  } catch (err) {
    await head.close();
    throw err;
  }
  const server = new ShardServer({ maxRows: config.maxRows, maxTopK: config.maxTopK, maxMessageBytes: config.maxMessageBytes, log });
  const port = await server.listen(config.listen);
  log.info("listening, loading slice", { port, range: `${range}`, V: vocabSize, d: dim, dtype, source: head.description.source });

  let session: ShardSession | null = null;
  const ready = (async () => {
    const started = Date.now();
    const progress = loadProgress(range.size, {
      percent(percent) {
        server.setLoading(`loading ${percent}%`);
        onProgress?.(percent);
      },
      log(percent, bytes, final) {
        const seconds = (Date.now() - started) / 1000;
        const fields = { percent, MB: Math.round(bytes / 1e6), "MB/s": seconds > 0 ? Math.round(bytes / 1e6 / seconds) : undefined };
        log.info(final ? "loaded" : "loading", final ? { ...fields, seconds: seconds.toFixed(1) } : fields);
      },
    });
    // Read block by block into one buffer that onnxruntime copies from: the slice is never held twice.
    const source: SliceSource = {
      rows: range.size,
      dim,
      hasBias: head.description.biasTensor !== null,
      read: (local, weight, bias) =>
        head.readRowsInto(ClassRange.of(range.start + local.start, range.start + local.end), { weight, bias }, (done, total) => progress.reading(local, done, total)),
    };
    session = await ShardSession.create(range, source, { threads: config.threads, blockRows: config.blockRows, onBlock: (rowsDone) => progress.built(rowsDone) });
    server.setLoading("fingerprinting");
    const hashStarted = Date.now();
    const fingerprint = await head.fingerprint();
    log.info("fingerprinted", { fingerprint, seconds: ((Date.now() - hashStarted) / 1000).toFixed(2) });
    await head.close();
    const shardSession = session;
    server.setReady({
      range,
      vocabSize,
      dim,
      fingerprint,
      dtype,
      hasBias: source.hasBias,
      source: head.description.source,
      run: (batch) => shardSession.run(batch),
    });
    log.info("serving", { range: `${range}`, fingerprint, blocks: shardSession.blockCount, seconds: ((Date.now() - started) / 1000).toFixed(1) });
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

/**
 * Loading progress over a slice read in blocks: percent by rows (read and
 * built), bytes read for the MB/s figure; every new percent goes to
 * `percent`, the log gets at most one line a second plus the final one.
 */
function loadProgress(rows: number, to: { percent(p: number): void; log(p: number, bytes: number, final: boolean): void }) {
  let rowsBuilt = 0;
  let bytesBefore = 0;
  let bytesNow = 0;
  let lastLog = 0;
  let lastPercent = -1;
  const emit = (percent: number, final: boolean) => {
    if (percent !== lastPercent) to.percent(percent);
    lastPercent = percent;
    if (final || Date.now() - lastLog > 1000) {
      lastLog = Date.now();
      to.log(percent, bytesBefore + bytesNow, final);
    }
  };
  return {
    reading(local: ClassRange, done: number, total: number) {
      bytesNow = done;
      // Reading is the first 90% of a block's share, building its session the rest.
      emit(Math.floor((100 * (rowsBuilt + 0.9 * local.size * (done / total))) / rows), false);
      if (done === total) {
        bytesBefore += total;
        bytesNow = 0;
      }
    },
    built(rowsDone: number) {
      rowsBuilt = rowsDone;
      emit(Math.floor((100 * rowsDone) / rows), rowsDone === rows);
    },
  };
}
