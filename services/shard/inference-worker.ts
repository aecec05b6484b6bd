/**
 * The inference worker thread: it owns the onnxruntime session of a shard.
 * onnxruntime-node runs a session synchronously on the calling thread (and
 * builds it synchronously too), which would stall the shard's event loop for
 * a whole batch — gRPC, health checks and the batch queue with it. Here only
 * this thread waits. Buffers travel by transfer, never by copy.
 *
 * On Linux this thread also lowers its own scheduling priority (nice is per
 * thread there, and the onnxruntime threads it starts inherit it): when the
 * cores are busy with inference, the event loop still gets one the moment it
 * has work, so health checks and responses are not queued behind a batch.
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { openHead } from "../../shared/checkpoint/open-head.js";
import { ShardmaxError } from "../../shared/errors.js";
import { ClassRange } from "../../shared/ranges.js";
import type { SliceWeights } from "./partial-graph.js";
import { ShardSession } from "./session.js";
import { headSliceSource } from "./slice-source.js";
import { type FromWorker, type HeadSpec, type ToWorker, transferablesIn, WORKER_ROLE, type WorkerSessionOptions } from "./worker-protocol.js";

/** Builds the session from a transferred slice, or by reading the slice from the checkpoint here, block by block. */
async function createSession(
  range: ClassRange,
  slice: SliceWeights | HeadSpec,
  options: WorkerSessionOptions,
  report: (progress: FromWorker) => void,
): Promise<ShardSession> {
  const onBlock = (rowsDone: number, rowsTotal: number) => report({ type: "built", rowsDone, rowsTotal });
  if ("weight" in slice) return ShardSession.create(range, slice, { ...options, onBlock });
  const head = await openHead(slice.weights, { tensor: slice.tensor, bias: slice.bias });
  try {
    const source = headSliceSource(head, range, (local, bytesDone, bytesTotal) =>
      report({ type: "reading", local: { start: local.start, end: local.end }, bytesDone, bytesTotal }),
    );
    return await ShardSession.create(range, source, { ...options, onBlock });
  } finally {
    await head.close();
  }
}

// Only as the worker that worker-session.ts starts; importing this file elsewhere does nothing.
/** Nice value of the inference threads: lower priority than the event loop, still far from idle-only. */
const INFERENCE_NICE = 10;

if (parentPort && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) {
  const port = parentPort;
  if (process.platform === "linux") setPriority(INFERENCE_NICE); // this thread only (NPTL), before the session starts its threads
  let session: ShardSession | null = null;
  const failed = (id: number | null, err: unknown): FromWorker => {
    const error = ShardmaxError.from(err);
    return { type: "failed", id, code: error.code, message: error.message };
  };

  port.on("message", (message: ToWorker) => {
    switch (message.type) {
      case "create": {
        const range = ClassRange.of(message.range.start, message.range.end);
        createSession(range, message.slice, message.options, (progress) => port.postMessage(progress)).then(
          (created) => {
            session = created;
            port.postMessage({ type: "created" } satisfies FromWorker);
          },
          (err: unknown) => port.postMessage(failed(null, err)),
        );
        return;
      }
      case "run": {
        const { id, batch } = message;
        if (!session) {
          port.postMessage(failed(id, new ShardmaxError("INTERNAL", "the inference worker has no session yet")));
          return;
        }
        session.run(batch).then(
          (partial) => {
            const reply: FromWorker = { type: "result", id, partial };
            port.postMessage(reply, transferablesIn(partial));
          },
          (err: unknown) => port.postMessage(failed(id, err)),
        );
        return;
      }
      case "logits": {
        const { id, batch } = message;
        if (!session) {
          port.postMessage(failed(id, new ShardmaxError("INTERNAL", "the inference worker has no session yet")));
          return;
        }
        session.logits(batch).then(
          (logits) => port.postMessage({ type: "logits", id, logits } satisfies FromWorker, [logits.buffer as ArrayBuffer]),
          (err: unknown) => port.postMessage(failed(id, err)),
        );
        return;
      }
      case "close": {
        const closing = session?.close() ?? Promise.resolve();
        session = null;
        closing.finally(() => port.postMessage({ type: "closed" } satisfies FromWorker));
        return;
      }
    }
  });
}
