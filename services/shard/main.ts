/**
 * Runs one shard: listen first (health NOT_SERVING), load only this shard's
 * rows with progress in the log, fingerprint the head, build the session (in
 * its inference worker), put the dynamic batcher in front of it, then report
 * SERVING. Config arrives parsed and frozen from the CLI.
 */

import { openHead } from "../../shared/checkpoint/open-head.js";
import type { ServingTls } from "../../shared/grpc/tls.js";
import { PemFiles } from "../../shared/grpc/tls.js";
import type { Logger } from "../../shared/log.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { createRegistry, type Registry } from "../../shared/metrics/registry.js";
import { noShardMetrics, shardMetrics } from "../../shared/metrics/shard-metrics.js";
import { ClassRange, splitRange } from "../../shared/ranges.js";
import { createTracing } from "../../shared/tracing/tracing.js";
import { partialBatches } from "./batch-partial.js";
import { autoMaxBatchRows, Batcher, type BatcherStats } from "./batcher.js";
import { rowsPerBlock } from "./block-plan.js";
import { type MetricsServer, serveMetrics } from "./metrics-server.js";
import { ShardServer } from "./server.js";
import { ShardSession } from "./session.js";
import { headSliceSource } from "./slice-source.js";
import { WorkerSession } from "./worker-session.js";

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
  /** Most rows in one onnxruntime run; larger calls are cut across runs. "auto": sized by the slice (autoMaxBatchRows). */
  maxBatchRows: number | "auto";
  /** After a run, how long the next may wait for as many calls as it answered (batch-queue.ts lingerUs). */
  maxQueueDelayUs: number;
  /** Rows that may wait for a run; more are refused with RESOURCE_EXHAUSTED. */
  maxQueueRows: number;
  /** "worker" (default): onnxruntime runs off the event loop. "main" exists to measure the difference. */
  inferenceThread?: "worker" | "main";
  /** Info names the weights' path; off, only their format (a path tells an attacker about the pod). */
  exposeTopology?: boolean;
  /** HOST:PORT of the HTTP listener serving GET /metrics; unset: no metrics listener. */
  metricsListen?: string;
  /** OTLP/HTTP endpoint for traces; unset: tracing is off. */
  otlpEndpoint?: string;
  /** Where the metrics go (tests pass their own); unset: a new registry with the process metrics. */
  registry?: Registry;
  /** A plaintext listener serving only grpc.health.v1 (for probes that cannot do mTLS); unset: none. */
  healthListen?: string | undefined;
  /** TLS on the gRPC listener (unset: plaintext). */
  tls?: ServingTls | undefined;
}

export interface RunningShard {
  port: number;
  range: ClassRange;
  /** The metrics listener's port, when --metrics-listen was given. */
  metricsPort: number | null;
  /** Resolves once the slice is loaded and the shard is serving. */
  ready: Promise<void>;
  /** Counters of the batcher (zero until ready). */
  stats(): Readonly<BatcherStats>;
  stop(): Promise<void>;
}

/**
 * The receive limit for the largest batch a Partial may carry: maxRows hidden
 * rows, plus as many bytes again for target ids and framing; never below the
 * configured floor.
 */
export function partialMessageBytes(maxRows: number, dim: number, floorBytes: number): number {
  return Math.min(2 ** 31 - 1, Math.max(floorBytes, 2 * maxRows * dim * 4 + (1 << 20)));
}

type Session = Pick<ShardSession, "run" | "logits" | "close">;

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
  const maxMessageBytes = partialMessageBytes(config.maxRows, dim, config.maxMessageBytes);
  const registry = config.registry ?? createRegistry();
  // Off unless listened for: a shard without --metrics-listen records nothing.
  const metrics = config.metricsListen === undefined ? noShardMetrics : shardMetrics(registry);
  const tracing = createTracing(config.otlpEndpoint, "shardmax-shard");
  const server = new ShardServer({ maxRows: config.maxRows, maxTopK: config.maxTopK, maxMessageBytes, log, metrics, tracing, tls: config.tls });
  const port = await server.listen(config.listen);
  if (config.healthListen !== undefined) await server.listenHealth(config.healthListen);
  let loadRatio = 0;
  let served: { fingerprint: string; rangeStart: number; rangeEnd: number } | null = null;
  let batcher: Batcher<BatchPartial> | null = null;
  metrics.watch(() => ({ queueRows: batcher?.waitingRows ?? 0, loadProgress: loadRatio, model: served }));
  const metricsTls = config.tls && config.metricsListen !== undefined ? new PemFiles({ cert: config.tls.certFile, key: config.tls.keyFile }, log) : undefined;
  const metricsServer: MetricsServer | null = config.metricsListen === undefined ? null : await serveMetrics(config.metricsListen, registry, metricsTls);
  log.info("listening, loading slice", { port, range: `${range}`, V: vocabSize, d: dim, dtype, source: head.description.source });

  let session: Session | null = null;
  const ready = (async () => {
    const started = Date.now();
    const progress = loadProgress(range.size, {
      percent(percent) {
        server.setLoading(`loading ${percent}%`);
        loadRatio = percent / 100;
        onProgress?.(percent);
      },
      log(percent, bytes, final) {
        const seconds = (Date.now() - started) / 1000;
        const fields = { percent, MB: Math.round(bytes / 1e6), "MB/s": seconds > 0 ? Math.round(bytes / 1e6 / seconds) : undefined };
        log.info(final ? "loaded" : "loading", final ? { ...fields, seconds: seconds.toFixed(1) } : fields);
      },
    });
    // The slice is read block by block into one buffer that onnxruntime copies from, on the
    // thread that builds the session (the inference worker by default): it is never held twice.
    const options = { threads: config.threads, blockRows: config.blockRows, onBlock: (rowsDone: number) => progress.built(rowsDone) };
    const reading = (local: ClassRange, done: number, total: number) => progress.reading(local, done, total);
    const onDeath = (error: Error) => {
      log.error("inference worker died; not serving", { error: error.message });
      server.setServing(false);
    };
    session =
      config.inferenceThread === "main"
        ? await ShardSession.create(range, headSliceSource(head, range, reading), options)
        : await WorkerSession.create(range, { weights: config.weights, tensor: config.tensor, bias: config.bias }, options, onDeath, reading);
    server.setLoading("fingerprinting");
    const hashStarted = Date.now();
    const fingerprint = await head.fingerprint();
    log.info("fingerprinted", { fingerprint, seconds: ((Date.now() - hashStarted) / 1000).toFixed(2) });
    await head.close();
    const shardSession = session;
    const maxBatchRows = config.maxBatchRows === "auto" ? autoMaxBatchRows(range.size) : config.maxBatchRows;
    // One full-size run before serving: onnxruntime's arena grows to the largest run it has seen, and growing
    // (seconds of page faults on a large slice) belongs to startup, not to the first full batch of traffic.
    server.setLoading("warming up");
    await shardSession.run({
      rows: maxBatchRows,
      hidden: new Float32Array(maxBatchRows * dim),
      topK: 1,
      options: defaultOptions(),
      targetCounts: new Uint32Array(maxBatchRows),
      targetIds: new Uint32Array(0),
    });
    const shardBatcher = new Batcher(
      partialBatches((batch) => shardSession.run(batch)),
      {
        dim,
        maxBatchRows,
        maxQueueDelayUs: config.maxQueueDelayUs,
        maxQueueRows: config.maxQueueRows,
        observer: metrics.batch,
      },
    );
    batcher = shardBatcher;
    served = { fingerprint, rangeStart: range.start, rangeEnd: range.end };
    loadRatio = 1;
    server.setReady({
      range,
      vocabSize,
      dim,
      fingerprint,
      dtype,
      hasBias: head.description.biasTensor !== null,
      source: config.exposeTopology ? head.description.source : "",
      run: (call, signal, onStart) => shardBatcher.run(call, signal, onStart),
      logits: (batch) => shardSession.logits(batch),
    });
    log.info("serving", {
      range: `${range}`,
      fingerprint,
      blocks: Math.ceil(range.size / rowsPerBlock(range.size, dim, config.blockRows)),
      maxBatchRows,
      seconds: ((Date.now() - started) / 1000).toFixed(1),
    });
  })();
  ready.catch(() => {}); // the caller awaits `ready`; avoid an unhandled rejection before it does

  return {
    port,
    range,
    metricsPort: metricsServer?.port ?? null,
    ready,
    stats: () => batcher?.stats ?? { runs: 0, calls: 0, rows: 0, isolatedRuns: 0, refused: 0 },
    async stop() {
      await server.shutdown(config.drainMs);
      const counts = batcher?.stats;
      if (counts && counts.runs > 0) log.info("batches", { ...counts, rowsPerRun: (counts.rows / counts.runs).toFixed(1) });
      await (session as Session | null)?.close();
      await metricsServer?.close();
      metricsTls?.close();
      await tracing.shutdown();
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
