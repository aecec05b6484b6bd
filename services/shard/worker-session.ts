/**
 * A shard session that lives in a worker thread (see inference-worker.ts),
 * seen from the main thread: the same `create` / `run` / `close` as
 * ShardSession. The slice and every batch are transferred (zero-copy): after
 * `create` the caller's slice arrays are detached, after `run` the batch's.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type ErrorCode, ShardmaxError } from "../../shared/errors.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { packageRoot } from "../../shared/package-root.js";
import { ClassRange } from "../../shared/ranges.js";
import type { SliceWeights } from "./partial-graph.js";
import type { LogitsBatch, PartialBatch, SessionOptions } from "./session.js";
import type { ReadProgress } from "./slice-source.js";
import { type FromWorker, type HeadSpec, type ToWorker, transferablesIn, WORKER_ROLE } from "./worker-protocol.js";

interface Pending {
  resolve(result: BatchPartial | Float32Array): void;
  reject(error: ShardmaxError): void;
}

/** The compiled worker; from TypeScript sources (tests) it is the one in dist/, which `npm test` builds first. */
function workerFile(): string {
  const beside = fileURLToPath(new URL("./inference-worker.js", import.meta.url));
  return existsSync(beside) ? beside : join(packageRoot(), "dist", "services", "shard", "inference-worker.js");
}

export class WorkerSession {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private dead: ShardmaxError | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly onDeath: (error: ShardmaxError) => void,
  ) {
    worker.on("message", (message: FromWorker) => this.receive(message));
    worker.on("error", (err) => this.die(new ShardmaxError("INTERNAL", `inference worker failed: ${err.message}`, { cause: err })));
    worker.on("exit", (code) => this.die(new ShardmaxError("UNAVAILABLE", `inference worker exited (code ${code})`)));
  }

  /**
   * Builds the session in a new worker, from a slice in memory (transferred)
   * or from the checkpoint, which the worker then reads itself. `onDeath`
   * hears if the worker dies later; `onRead` / `options.onBlock` see loading progress.
   */
  static async create(
    range: ClassRange,
    slice: SliceWeights | HeadSpec,
    options: SessionOptions,
    onDeath: (error: ShardmaxError) => void = () => {},
    onRead?: ReadProgress,
  ): Promise<WorkerSession> {
    const worker = new Worker(workerFile(), { workerData: { role: WORKER_ROLE } });
    let onMessage: (message: FromWorker) => void = () => {};
    const created = new Promise<void>((resolve, reject) => {
      onMessage = (message) => {
        if (message.type === "created") resolve();
        if (message.type === "built") options.onBlock?.(message.rowsDone, message.rowsTotal);
        if (message.type === "reading") onRead?.(ClassRange.of(message.local.start, message.local.end), message.bytesDone, message.bytesTotal);
        if (message.type === "failed") reject(new ShardmaxError(message.code as ErrorCode, message.message));
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new ShardmaxError("INTERNAL", `inference worker exited (code ${code}) while building the session`)));
    });
    const { onBlock: _onBlock, ...crossing } = options;
    const message: ToWorker = { type: "create", range: { start: range.start, end: range.end }, slice, options: crossing };
    worker.postMessage(message, transferablesIn(slice));
    try {
      await created;
    } catch (err) {
      await worker.terminate();
      throw ShardmaxError.from(err);
    } finally {
      worker.off("message", onMessage);
      worker.removeAllListeners("error");
      worker.removeAllListeners("exit");
    }
    return new WorkerSession(worker, onDeath);
  }

  run(batch: PartialBatch): Promise<BatchPartial> {
    return this.send((id) => ({ type: "run", id, batch })) as Promise<BatchPartial>;
  }

  /** ShardSession.logits in the worker; the batch is transferred, the logits come back transferred. */
  logits(batch: LogitsBatch): Promise<Float32Array> {
    return this.send((id) => ({ type: "logits", id, batch })) as Promise<Float32Array>;
  }

  private send(message: (id: number) => Extract<ToWorker, { id: number }>): Promise<BatchPartial | Float32Array> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const built = message(id);
      this.worker.postMessage(built, transferablesIn(built.batch));
    });
  }

  async close(): Promise<void> {
    if (this.dead) return;
    const closed = new Promise<void>((resolve) => {
      this.worker.on("message", (message: FromWorker) => message.type === "closed" && resolve());
      this.worker.once("exit", () => resolve());
    });
    this.worker.postMessage({ type: "close" } satisfies ToWorker);
    await closed;
    this.dead = new ShardmaxError("UNAVAILABLE", "the shard session is closed");
    await this.worker.terminate();
  }

  private receive(message: FromWorker): void {
    if (message.type !== "result" && message.type !== "logits" && message.type !== "failed") return;
    if (message.id === null) return;
    const pending = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (message.type === "result") pending?.resolve(message.partial);
    else if (message.type === "logits") pending?.resolve(message.logits);
    else pending?.reject(new ShardmaxError(message.code as ErrorCode, message.message));
  }

  private die(error: ShardmaxError): void {
    if (this.dead) return;
    this.dead = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    this.onDeath(error);
  }
}
