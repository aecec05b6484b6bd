/**
 * Shard.PartialStream, the gateway's side: one long-lived bidirectional call
 * per shard address carrying every Partial sent there, each with an id, so a
 * query's hop to a range is one stream message instead of a unary call.
 *
 * Per Partial, the semantics of a unary call are kept: its deadline (a timer
 * here, and a budget the shard enforces too), cancellation (`signal`: a cancel
 * message frees the shard's work), and its error as a ShardmaxError. When the
 * stream breaks (the shard died, restarted or was cut off) every Partial still
 * waiting on it fails UNAVAILABLE at once — the fan-out then tries another
 * replica, exactly as after a failed unary call — and the next Partial opens a
 * new stream. A shard without PartialStream (an older build) answers
 * UNIMPLEMENTED: the client then sends unary Partials to it for good.
 */
import * as grpc from "@grpc/grpc-js";
import { ERROR_CODES, type ErrorCode, ShardmaxError } from "../../shared/errors.js";
import type { PartialRequest, PartialResponseMessage, PartialStreamRequest, PartialStreamResponseMessage } from "../../shared/grpc/messages.js";

type StreamAnswer = PartialStreamResponseMessage;

type Duplex = grpc.ClientDuplexStream<PartialStreamRequest, StreamAnswer>;

/** How to reach the shard: open a stream, or make one unary Partial call (the fallback). */
export interface PartialStreamTransport {
  open(): Duplex;
  unary(request: PartialRequest, deadline: Date, signal?: AbortSignal, metadata?: Record<string, string>): Promise<PartialResponseMessage>;
}

interface Waiter {
  resolve(response: PartialResponseMessage): void;
  reject(error: ShardmaxError): void;
  request: PartialRequest;
  deadline: Date;
  signal: AbortSignal | undefined;
  metadata: Record<string, string>;
}

export class PartialStreamClient {
  private stream: Duplex | null = null;
  private unsupported = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private closed = false;
  /** When the current stream last carried an answer (performance.now()). */
  private lastAnswerAt = 0;
  /** Streams opened so far (one, unless streams broke), for tests and operators. */
  opened = 0;

  constructor(
    private readonly address: string,
    private readonly transport: PartialStreamTransport,
  ) {}

  /** Sends one Partial; `metadata` rides in the stream message (e.g. a traceparent). */
  call(request: PartialRequest, deadline: Date, signal?: AbortSignal, metadata: Record<string, string> = {}): Promise<PartialResponseMessage> {
    if (this.unsupported || this.closed) return this.transport.unary(request, deadline, signal, metadata);
    if (signal?.aborted) return Promise.reject(cancelled());
    const budgetMs = Math.ceil(deadline.getTime() - Date.now());
    if (budgetMs <= 0) return Promise.reject(new ShardmaxError("DEADLINE_EXCEEDED", `no time left for a Partial to ${this.address}`));
    const id = this.nextId++;
    const stream = this.current();
    return new Promise((resolve, reject) => {
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        this.drop(id, stream);
        reject(new ShardmaxError("DEADLINE_EXCEEDED", `shard ${this.address} did not answer a Partial within its deadline`));
        // Nothing at all came back for as long as this Partial waited: the stream (or the peer) is stuck — a half-open
        // connection, a stopped process. Replace it, so the Partials still waiting fail over now, not at their deadlines.
        if (this.stream === stream && this.lastAnswerAt < sentAt) this.recycle(stream);
      }, budgetMs);
      const onAbort = () => {
        this.drop(id, stream);
        reject(cancelled());
      };
      const settle =
        <T>(fn: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          fn(value);
        };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, { resolve: settle(resolve), reject: settle(reject), request, deadline, signal, metadata });
      stream.write({ id, partial: request, budgetMs, metadata });
    });
  }

  /** Closes the stream; Partials still waiting fail CANCELLED, later ones go unary (the client is being closed). */
  close(): void {
    this.closed = true;
    const stream = this.stream;
    this.stream = null;
    this.failAll(new ShardmaxError("CANCELLED", `the client of shard ${this.address} was closed`));
    stream?.cancel();
  }

  private current(): Duplex {
    if (this.stream) return this.stream;
    const stream = this.transport.open();
    this.opened++;
    this.stream = stream;
    stream.on("data", (answer: StreamAnswer) => this.answer(answer));
    stream.on("error", (err: grpc.ServiceError) => this.broken(stream, err));
    stream.on("end", () => this.broken(stream, null));
    this.lastAnswerAt = performance.now();
    return stream;
  }

  private answer(answer: StreamAnswer): void {
    this.lastAnswerAt = performance.now();
    const id = Number(answer.id);
    const waiter = this.waiting.get(id);
    if (!waiter) return; // timed out or cancelled here already
    this.waiting.delete(id);
    if (answer.errorCode) {
      const code = (answer.errorCode in ERROR_CODES ? answer.errorCode : "INTERNAL") as ErrorCode;
      waiter.reject(new ShardmaxError(code, answer.errorMessage));
    } else if (!answer.partial) waiter.reject(new ShardmaxError("INTERNAL", `shard ${this.address} answered a Partial with neither a result nor an error`));
    else waiter.resolve(answer.partial);
  }

  /** Stops waiting for `id`; tells the shard, so its work is dropped, if the stream is still the one it went on. */
  private drop(id: number, stream: Duplex): void {
    if (!this.waiting.delete(id)) return;
    if (this.stream === stream) stream.write({ id, cancel: true });
  }

  private recycle(stream: Duplex): void {
    this.broken(stream, null, "it carried no answer for a whole Partial deadline");
    stream.cancel();
  }

  private broken(stream: Duplex, err: grpc.ServiceError | null, reason = "the shard closed it"): void {
    if (this.stream !== stream) return;
    this.stream = null;
    if (err?.code === grpc.status.UNIMPLEMENTED) {
      // An older shard: what was sent on the stream goes again as unary calls.
      this.unsupported = true;
      for (const [id, w] of this.waiting) {
        this.waiting.delete(id);
        this.transport.unary(w.request, w.deadline, w.signal, w.metadata).then(w.resolve, (e: unknown) => w.reject(ShardmaxError.from(e)));
      }
      return;
    }
    const why = err ? `${ShardmaxError.from(err).code} ${err.details || err.message}` : reason;
    this.failAll(new ShardmaxError("UNAVAILABLE", `the Partial stream to shard ${this.address} broke (${why})`));
  }

  private failAll(error: ShardmaxError): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(error);
  }
}

const cancelled = () => new ShardmaxError("CANCELLED", "the Partial was cancelled by the gateway");
