/**
 * Shard.PartialStream, the shard's side: many Partials on one long-lived
 * bidirectional call, so a query pays one stream message per range instead of
 * a unary call (its own HTTP/2 stream, headers, trailers and deadline timer).
 *
 * Each request runs exactly as a unary Partial would (the same decode, checks
 * and batcher: `run`), under its own AbortSignal: a `cancel` message, its
 * time budget running out, or the stream going away aborts it. Answers go back
 * in completion order with the request's id; an error is the shardmax code and
 * message a unary call would have carried in its status.
 *
 * Flow control: at most `maxPending` Partials of one stream are in the shard at
 * once; past that the stream stops being read, so HTTP/2 flow control pushes
 * back on the gateway instead of the shard queueing without bound.
 */
import type * as grpc from "@grpc/grpc-js";
import { ShardmaxError } from "../../shared/errors.js";
import type { PartialStreamRequestMessage, PartialStreamResponse } from "../../shared/grpc/messages.js";
import type { PartialRequestFields } from "./partial-request.js";

export type { PartialStreamRequestMessage, PartialStreamResponse };

/** Runs one Partial (the unary handler's body); `metadata` is the per-Partial metadata of the stream message. */
export type RunPartial = (request: PartialRequestFields, signal: AbortSignal, metadata: Record<string, string>) => Promise<object>;

export interface PartialStreamOptions {
  /** Partials of one stream in the shard at once before the stream stops being read. */
  maxPending: number;
  /** Called with every error answered as INTERNAL (a bug), for the log. */
  onInternal?: (error: ShardmaxError) => void;
}

type Duplex = grpc.ServerDuplexStream<PartialStreamRequestMessage, PartialStreamResponse>;

interface Pending {
  gone: AbortController;
  timer: NodeJS.Timeout | null;
}

/** A served stream, as the server's shutdown sees it. */
export interface ServedStream {
  /** Refuses new Partials (UNAVAILABLE: the caller fails over), answers those in flight, then closes the stream. */
  drain(): void;
}

export function servePartialStream(call: Duplex, run: RunPartial, options: PartialStreamOptions): ServedStream {
  const pending = new Map<number, Pending>();
  let closed = false;
  let ended = false;
  let draining = false;
  let paused = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    call.end();
  };

  const finish = (id: number, answer: PartialStreamResponse | null): void => {
    const entry = pending.get(id);
    if (!entry) return; // cancelled or timed out already: its answer was given, or is not wanted
    pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (answer && !closed) call.write(answer);
    if (paused && pending.size < options.maxPending) {
      paused = false;
      call.resume();
    }
    if ((ended || draining) && pending.size === 0) close();
  };
  const fail = (id: number, error: ShardmaxError): void => {
    if (error.code === "INTERNAL") options.onInternal?.(error);
    finish(id, { id, errorCode: error.code, errorMessage: error.message });
  };

  call.on("data", (message: PartialStreamRequestMessage) => {
    const id = Number(message.id);
    if (message.cancel) {
      pending.get(id)?.gone.abort();
      finish(id, null);
      return;
    }
    if (draining) {
      if (!closed) call.write({ id, errorCode: "UNAVAILABLE", errorMessage: "the shard is shutting down" });
      return;
    }
    if (pending.has(id)) {
      call.write({ id, errorCode: "INVALID_ARGUMENT", errorMessage: `id ${id}: a Partial with this id is already in flight on this stream` });
      return;
    }
    const refused = checkStreamMessage(message);
    if (refused) {
      if (!closed) call.write({ id, errorCode: "INVALID_ARGUMENT", errorMessage: refused });
      return;
    }
    const entry: Pending = { gone: new AbortController(), timer: null };
    pending.set(id, entry);
    if (message.budgetMs > 0) {
      entry.timer = setTimeout(() => {
        entry.gone.abort();
        fail(id, new ShardmaxError("DEADLINE_EXCEEDED", `the Partial's budget of ${message.budgetMs} ms ran out in the shard`));
      }, message.budgetMs);
    }
    if (!message.partial) {
      fail(id, new ShardmaxError("INVALID_ARGUMENT", "partial: missing (a stream message is a Partial or a cancel)"));
      return;
    }
    Promise.resolve()
      .then(() => run(message.partial!, entry.gone.signal, message.metadata ?? {}))
      .then(
        (partial) => finish(id, { id, partial }),
        (err: unknown) => fail(id, ShardmaxError.from(err)),
      );
    if (!paused && pending.size >= options.maxPending) {
      paused = true;
      call.pause();
    }
  });

  const abortAll = (): void => {
    closed = true;
    for (const entry of pending.values()) {
      entry.gone.abort();
      if (entry.timer) clearTimeout(entry.timer);
    }
    pending.clear();
  };
  call.on("cancelled", abortAll);
  call.on("error", abortAll);
  // The caller half-closed: answer what is in flight, then close our side.
  call.on("end", () => {
    ended = true;
    if (pending.size === 0) close();
  });
  return {
    drain: () => {
      draining = true;
      if (pending.size === 0) close();
    },
  };
}

/** The longest budget a Partial may carry: Node's timers cannot wait longer (2^31 − 1 ms, about 24.8 days). */
export const MAX_BUDGET_MS = 2 ** 31 - 1;
/** Per-Partial metadata carries a trace context (traceparent, tracestate): a few short entries. */
export const MAX_METADATA_ENTRIES = 8;
export const MAX_METADATA_CHARS = 512;

/** Why a stream message's own fields are out of bounds, or null: checked before the Partial is queued. */
function checkStreamMessage(message: PartialStreamRequestMessage): string | null {
  if (message.budgetMs > MAX_BUDGET_MS) return `budget_ms: ${message.budgetMs} is over the limit of ${MAX_BUDGET_MS}`;
  const entries = Object.entries(message.metadata ?? {});
  if (entries.length > MAX_METADATA_ENTRIES) return `metadata: ${entries.length} entries, the limit is ${MAX_METADATA_ENTRIES}`;
  for (const [key, value] of entries) {
    if (key.length + value.length > MAX_METADATA_CHARS)
      return `metadata: an entry of ${key.length + value.length} characters, the limit is ${MAX_METADATA_CHARS}`;
  }
  return null;
}
