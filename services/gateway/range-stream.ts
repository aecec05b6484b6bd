/**
 * One class range's Shard.Logits stream, read on demand. The chunks wait in
 * grpc-js's own object buffer (at most its highWaterMark of 16); grpc-js asks
 * HTTP/2 for the next message only when that buffer has room, so a reader
 * that stops makes the shard stop, and the gateway never holds more than
 * MAX_HELD_PER_RANGE chunks of a range (16 buffered + the one being read).
 *
 * Failover happens before the first chunk only: a replica that fails before
 * it sent anything is marked failed and the next one is asked; after the
 * first chunk, the rows already sent cannot be taken back, so the failure is
 * the answer's (the caller fails the whole response).
 */
import type * as grpc from "@grpc/grpc-js";
import { ShardmaxError } from "../../shared/errors.js";
import type { ClassRange } from "../../shared/ranges.js";
import type { ReplicaPool } from "./fanout.js";
import type { ReplicaPicker } from "./replica-picker.js";
import type { LogitsCall, LogitsChunkMessage } from "./shard-client.js";

/** grpc-js's object-mode buffer (16) plus the chunk in the reader's hands. */
export const MAX_HELD_PER_RANGE = 17;

/** Errors after which another replica may answer (as in fanout.ts). */
const RETRYABLE = new Set(["UNAVAILABLE", "NOT_READY", "DEADLINE_EXCEEDED", "INTERNAL", "CANCELLED", "MODEL_MISMATCH", "RESOURCE_EXHAUSTED"]);

export class RangeStream {
  private stream: grpc.ClientReadableStream<LogitsChunkMessage> | null = null;
  private address: string | null = null;
  private failure: ShardmaxError | null = null;
  private ended = false;
  private wake: () => void = () => {};
  /** Most chunks held at once (grpc-js buffer + in hand), for tests and operators. */
  maxHeld = 0;

  constructor(
    readonly range: ClassRange,
    private readonly replicas: readonly string[],
    private readonly pool: ReplicaPool,
    private readonly picker: ReplicaPicker,
    private readonly exposeTopology: boolean,
  ) {}

  /** Opens the stream on the first replica that sends a first chunk (or ends cleanly). */
  async open(call: LogitsCall, deadline: Date): Promise<void> {
    const order = this.picker.order(`${this.range}`, this.replicas);
    const failures: string[] = [];
    for (const [attempt, address] of order.entries()) {
      if (Date.now() >= deadline.getTime()) break;
      this.attach(address, this.pool.client(address).logits(call, deadline));
      try {
        await this.firstChunk();
        return;
      } catch (err) {
        const error = ShardmaxError.from(err);
        this.close();
        if (!RETRYABLE.has(error.code)) throw error;
        if (error.code !== "RESOURCE_EXHAUSTED") this.pool.markFailed(address, error);
        failures.push(this.exposeTopology ? `${address}: ${error.code} ${error.message}` : `replica ${attempt + 1} of ${order.length}: ${error.code}`);
      }
    }
    const why = failures.join("; ") || "no attempt was made";
    if (Date.now() >= deadline.getTime()) {
      throw new ShardmaxError("DEADLINE_EXCEEDED", `range ${this.range} did not start its logits within the deadline (${why})`);
    }
    throw new ShardmaxError("UNAVAILABLE", `range ${this.range} has no shard that can stream its logits (${why})`);
  }

  /** The next chunk, or null once the shard ended the stream with OK. */
  async next(): Promise<LogitsChunkMessage | null> {
    for (;;) {
      if (this.failure) throw this.failure;
      const stream = this.stream;
      if (!stream) throw new ShardmaxError("INTERNAL", `range ${this.range}: stream read before it was opened`);
      const chunk = stream.read() as LogitsChunkMessage | null;
      if (chunk !== null) {
        this.maxHeld = Math.max(this.maxHeld, stream.readableLength + 1);
        return chunk;
      }
      if (this.ended) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Chunks grpc-js holds for this range right now. */
  get buffered(): number {
    return this.stream?.readableLength ?? 0;
  }

  /** Stops the shard's work (the caller went away or another range failed). */
  cancel(): void {
    this.close();
  }

  private attach(address: string, stream: grpc.ClientReadableStream<LogitsChunkMessage>): void {
    this.address = address;
    this.picker.begin(address);
    this.stream = stream;
    this.failure = null;
    this.ended = false;
    // A replica given up on may still report (its CANCELLED): only the current stream's events count.
    const current = () => this.stream === stream;
    stream.on("readable", () => current() && this.wake());
    stream.on("end", () => {
      if (!current()) return;
      this.ended = true;
      this.wake();
    });
    stream.on("error", (err) => {
      if (!current()) return;
      this.failure ??= ShardmaxError.from(err);
      this.wake();
    });
  }

  private async firstChunk(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.buffered > 0 || this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private close(): void {
    if (!this.stream || !this.address) return;
    const stream = this.stream;
    this.picker.end(this.address);
    this.address = null;
    if (!this.ended) {
      // Cancelling reports CANCELLED as an error of the stream: heard here, so it is not unhandled.
      stream.on("error", () => {});
      stream.cancel();
    }
  }
}
