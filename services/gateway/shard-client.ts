/**
 * A gRPC client of one shard address: typed `info` and `partial`, decoding the
 * columnar bytes of a PartialResponse into a BatchPartial (one aligned copy),
 * checked against the request (partial-codec.ts).
 */
import * as grpc from "@grpc/grpc-js";
import { ShardmaxError } from "../../shared/errors.js";
import type { LogitsChunkMessage, PartialRequest, PartialResponseMessage, ShardInfoMessage, ShardStub } from "../../shared/grpc/messages.js";
import { decodePartialColumns, encodeOptions } from "../../shared/grpc/partial-codec.js";
import { messageLimits, shardmaxProto } from "../../shared/grpc/proto.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { RowOptions } from "../../shared/math/row-options.js";
import { toBytes } from "../../shared/tensor-bytes.js";
import type { Context } from "../../shared/tracing/tracing.js";
import { PartialStreamClient } from "./partial-stream-client.js";

export interface ShardInfo {
  rangeStart: number;
  rangeEnd: number;
  vocabSize: number;
  dim: number;
  fingerprint: string;
  dtype: string;
  hasBias: boolean;
  source: string;
  maxRows: number;
}

export interface PartialCall {
  rows: number;
  dim: number;
  hidden: Float32Array;
  topK: number;
  /** Per-row temperature and sampling options. */
  options: RowOptions;
  targetCounts: Uint32Array;
  targetIds: Uint32Array;
  fingerprint: string;
  /** The calling query's trace context (tracing on); never sent as a field. */
  trace?: Context;
  /** Told the range's answered call time, in ms; never sent. */
  onRangeTime?: (range: string, ms: number) => void;
}

export interface LogitsCall {
  rows: number;
  dim: number;
  hidden: Float32Array;
  temperature: number;
  fingerprint: string;
}

/** One chunk of Shard.Logits: scaled logits (float32 LE) of classes [start, start + n) of one row. */
export type { LogitsChunkMessage };

export interface ShardChannel {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

/** How Partials travel to a shard: many on one PartialStream (the default), or one unary call each. */
export type ShardTransport = "stream" | "unary";

export class ShardClient {
  private readonly client: ShardStub;
  private readonly stream: PartialStreamClient | null;

  constructor(
    readonly address: string,
    maxMessageBytes: number,
    /** One for every shard (shared/grpc/tls.ts channelCredentials); unset: plaintext. */
    channel?: ShardChannel,
    transport: ShardTransport = "stream",
  ) {
    const Ctor = shardmaxProto().Shard;
    this.client = new Ctor(address, channel?.credentials ?? grpc.credentials.createInsecure(), {
      ...channel?.options,
      ...messageLimits(maxMessageBytes),
      // A restarted shard must be found again quickly, not after grpc's default backoff of up to 2 minutes.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
    this.stream =
      transport === "stream"
        ? new PartialStreamClient(address, {
            open: () => this.client.partialStream({}),
            unary: (request, deadline, signal, metadata) => this.unaryPartial(request, deadline, signal, metadata),
          })
        : null;
  }

  /** Streams opened to this shard so far (0 with unary transport). */
  get streamsOpened(): number {
    return this.stream?.opened ?? 0;
  }

  info(deadlineMs: number): Promise<ShardInfo> {
    return unary<ShardInfoMessage>((done) => this.client.info({}, { deadline: new Date(Date.now() + deadlineMs) }, done));
  }

  /**
   * One Partial; `signal` cancels it (a hedge that lost), with the shard's work dropped. `metadata` (e.g. a
   * traceparent) rides in the stream message, or as gRPC metadata on a unary call.
   */
  async partial(request: PartialCall, deadline: Date, signal?: AbortSignal, metadata: Record<string, string> = {}): Promise<BatchPartial> {
    const message: PartialRequest = {
      rows: request.rows,
      dim: request.dim,
      hidden: toBytes(request.hidden),
      topK: request.topK,
      ...encodeOptions(request.options),
      targetCounts: Array.from(request.targetCounts),
      targetIds: toBytes(request.targetIds),
      fingerprint: request.fingerprint,
    };
    const response = await (this.stream ? this.stream.call(message, deadline, signal, metadata) : this.unaryPartial(message, deadline, signal, metadata));
    if (response.fingerprint !== request.fingerprint) throw new ShardmaxError("INTERNAL", "a shard sent a partial of another head than asked");
    return decodePartialColumns(response, { rows: request.rows, k: request.topK, targetCounts: request.targetCounts, options: request.options });
  }

  /**
   * Opens Shard.Logits: a stream of `{ row, start, logits }` chunks in row-major
   * order. grpc-js reads the next message only when the stream's buffer has
   * room, so a caller that stops reading stops the shard (HTTP/2 flow control).
   */
  logits(request: LogitsCall, deadline: Date): grpc.ClientReadableStream<LogitsChunkMessage> {
    return this.client.logits(
      { rows: request.rows, dim: request.dim, hidden: toBytes(request.hidden), temperature: request.temperature, fingerprint: request.fingerprint },
      { deadline },
    );
  }

  close(): void {
    this.stream?.close();
    this.client.close();
  }

  /** One unary Partial; `signal` cancels the call. */
  private unaryPartial(request: PartialRequest, deadline: Date, signal?: AbortSignal, metadata: Record<string, string> = {}): Promise<PartialResponseMessage> {
    if (signal?.aborted) return Promise.reject(new ShardmaxError("CANCELLED", "the Partial was cancelled by the gateway"));
    return new Promise((resolve, reject) => {
      const sent = new grpc.Metadata();
      for (const [key, value] of Object.entries(metadata)) sent.set(key, value);
      const call = this.client.partial(request, sent, { deadline }, (err, response) => {
        signal?.removeEventListener("abort", cancel);
        if (err) reject(err);
        else resolve(response!);
      });
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
    });
  }
}

function unary<T>(start: (done: (err: grpc.ServiceError | null, response?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, response) => (err ? reject(err) : resolve(response!))));
}
