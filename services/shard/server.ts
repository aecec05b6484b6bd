/**
 * The shard's gRPC server: `shardmax.v1.Shard` and `grpc.health.v1.Health`.
 * It listens before the slice is loaded, so health says NOT_SERVING (and
 * Partial says UNAVAILABLE) while loading; readiness probes rely on that.
 * On shutdown it says NOT_SERVING again, stops taking calls and lets the
 * in-flight ones finish.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ShardmaxError } from "../../shared/errors.js";
import { toServiceError } from "../../shared/grpc/errors.js";
import { encodePartialColumns } from "../../shared/grpc/partial-codec.js";
import { messageLimits, shardmaxDefinition, shardmaxProto } from "../../shared/grpc/proto.js";
import { addReflection } from "../../shared/grpc/reflection.js";
import { bind, drainWithin } from "../../shared/grpc/server-lifecycle.js";
import { type ServerTlsHandle, type ServingTls, serverCredentials } from "../../shared/grpc/tls.js";
import type { Logger } from "../../shared/log.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { noShardMetrics, type ShardMetrics } from "../../shared/metrics/shard-metrics.js";
import type { ClassRange } from "../../shared/ranges.js";
import type { Tracing } from "../../shared/tracing/tracing.js";
import type { ShardCall } from "./batcher.js";
import { ByteBudget } from "./byte-budget.js";
import { BUDGET_BYTES, type LogitsRequestMessage, streamLogits } from "./logits-stream.js";
import { decodePartialRequest, type PartialRequestFields } from "./partial-request.js";
import { type PartialStreamRequestMessage, type PartialStreamResponse, type ServedStream, servePartialStream } from "./partial-stream.js";
import type { LogitsBatch } from "./session.js";
import { shardSpans } from "./shard-spans.js";

/** What the server needs of a loaded shard; a batcher over the session provides `run`. */
export interface LoadedShard {
  range: ClassRange;
  vocabSize: number;
  dim: number;
  fingerprint: string;
  dtype: string;
  hasBias: boolean;
  source: string;
  /** `signal` aborts when the caller goes away (cancel or deadline); `onStart` is told when the call leaves the queue. */
  run(call: ShardCall, signal: AbortSignal, onStart?: () => void): Promise<BatchPartial>;
  /** Scaled logits of every owned class, [rows, range size] (Shard.Logits, the full distribution). */
  logits(batch: LogitsBatch): Promise<Float32Array>;
}

export interface ShardServerOptions {
  maxRows: number;
  maxTopK: number;
  maxMessageBytes: number;
  log: Logger;
  /** Counts Partial calls by result; unset: nothing is recorded. */
  metrics?: Pick<ShardMetrics, "request">;
  /** A span per Partial call that arrives with a `traceparent`, with its queue wait and compute as child spans. */
  tracing?: Tracing;
  /** Unset: plaintext (TLS ends at a mesh); with clientCaFile, only clients with a certificate that CA signed get through. */
  tls?: ServingTls | undefined;
}

const SERVICE_NAME = "shardmax.v1.Shard";
/** Partials of one PartialStream in the shard at once; past it the stream is not read (HTTP/2 flow control). */
export const STREAM_MAX_PENDING = 64;
/**
 * Health service name that is SERVING for as long as the process answers at
 * all — while loading and while draining too — for a liveness probe. Readiness
 * probes ask for "" (or shardmax.v1.Shard): SERVING only with the slice loaded.
 */
export const LIVENESS_SERVICE = "liveness";

export class ShardServer {
  readonly server: grpc.Server;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE_NAME]: "NOT_SERVING", [LIVENESS_SERVICE]: "SERVING" });
  private shard: LoadedShard | null = null;
  private readonly logitsBudget = new ByteBudget(BUDGET_BYTES);
  private loadingNote = "loading";
  private readonly streams = new Set<ServedStream>();
  private draining = false;

  constructor(private readonly options: ShardServerOptions) {
    this.server = new grpc.Server(messageLimits(options.maxMessageBytes));
    this.health.addToServer(this.server);
    addReflection(this.server, [{ definition: shardmaxDefinition(), names: ["shardmax.v1.Shard"] }]);
    this.server.addService(shardmaxProto().Shard.service, {
      info: this.unary(() => this.info()),
      partial: this.unary(
        (request: PartialRequestFields, signal, metadata) => this.partial(request, signal, this.options.tracing?.enabled ? headersOf(metadata) : NO_HEADERS),
        options.metrics ?? noShardMetrics,
      ),
      partialStream: (call: grpc.ServerDuplexStream<PartialStreamRequestMessage, PartialStreamResponse>) => this.partialStream(call),
      logits: (call: grpc.ServerWritableStream<LogitsRequestMessage, object>) => {
        if (this.shard) void streamLogits(call, this.shard, this.options, this.logitsBudget);
        else call.emit("error", toServiceError(new ShardmaxError("UNAVAILABLE", `shard is not ready: ${this.loadingNote}`)));
      },
    });
  }

  private tls: ServerTlsHandle | null = null;
  private healthServer: grpc.Server | null = null;

  async listen(address: string): Promise<number> {
    this.tls = serverCredentials(this.options.tls, this.options.log.child("tls"));
    return bind(this.server, address, this.tls.credentials);
  }

  /**
   * Serves only grpc.health.v1 (the same statuses), in plaintext, on a second
   * port: kubelet's gRPC probes cannot present a client certificate, and a
   * health status tells nothing worth protecting.
   */
  async listenHealth(address: string): Promise<number> {
    this.healthServer = new grpc.Server();
    this.health.addToServer(this.healthServer);
    return bind(this.healthServer, address, grpc.ServerCredentials.createInsecure());
  }

  setLoading(note: string): void {
    this.loadingNote = note;
  }

  setReady(shard: LoadedShard): void {
    this.shard = shard;
    this.setServing(true);
  }

  setServing(serving: boolean): void {
    const status = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", status);
    this.health.setStatus(SERVICE_NAME, status);
  }

  /** Stops taking calls, lets in-flight ones finish (up to graceMs), then closes. */
  async shutdown(graceMs: number): Promise<void> {
    this.setServing(false);
    this.draining = true;
    for (const stream of this.streams) stream.drain();
    await Promise.all([drainWithin(this.server, graceMs), this.healthServer ? drainWithin(this.healthServer, graceMs) : null]);
    this.tls?.close();
  }

  private unary<Req, Res>(
    handler: (request: Req, signal: AbortSignal, metadata: grpc.Metadata) => Promise<Res> | Res,
    metrics?: Pick<ShardMetrics, "request">,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const gone = new AbortController();
      call.once("cancelled", () => gone.abort());
      Promise.resolve()
        .then(() => handler(call.request, gone.signal, call.metadata))
        .then(
          (response) => {
            metrics?.request("OK");
            callback(null, response);
          },
          (err: unknown) => {
            const error = ShardmaxError.from(err);
            metrics?.request(error.code);
            if (error.code === "INTERNAL") this.options.log.error("partial failed", { error: error.message });
            callback(toServiceError(error));
          },
        );
    };
  }

  private partialStream(call: grpc.ServerDuplexStream<PartialStreamRequestMessage, PartialStreamResponse>): void {
    // Per-Partial metadata (the stream message's `metadata`, e.g. a traceparent) is the third argument of the run callback.
    const metrics = this.options.metrics ?? noShardMetrics;
    const run = (request: PartialRequestFields, signal: AbortSignal, headers: Record<string, string>) =>
      this.partial(request, signal, headers).then(
        (answer) => {
          metrics.request("OK");
          return answer;
        },
        (err: unknown) => {
          metrics.request(ShardmaxError.from(err).code);
          throw err;
        },
      );
    const served = servePartialStream(call, run, {
      maxPending: STREAM_MAX_PENDING,
      onInternal: (error) => this.options.log.error("partial failed", { error: error.message }),
    });
    if (this.draining) served.drain();
    this.streams.add(served);
    const forget = () => this.streams.delete(served);
    call.once("finish", forget);
    call.once("cancelled", forget);
    call.once("error", forget);
  }

  private loaded(): LoadedShard {
    if (!this.shard) throw new ShardmaxError("UNAVAILABLE", `shard is not ready: ${this.loadingNote}`);
    return this.shard;
  }

  private info(): object {
    const s = this.loaded();
    return {
      rangeStart: s.range.start,
      rangeEnd: s.range.end,
      vocabSize: s.vocabSize,
      dim: s.dim,
      fingerprint: s.fingerprint,
      dtype: s.dtype,
      hasBias: s.hasBias,
      source: s.source,
      maxRows: this.options.maxRows,
    };
  }

  private async partial(request: PartialRequestFields, signal: AbortSignal, headers: Record<string, string>): Promise<object> {
    const shard = this.loaded();
    const call = decodePartialRequest(request, shard, this.options);
    const traced = this.options.tracing?.enabled && headers.traceparent ? shardSpans(this.options.tracing.tracer, headers, call.rows) : null;
    try {
      const result = await shard.run(call, signal, traced?.started);
      return { rows: result.rows, k: result.k, ...encodePartialColumns(result), fingerprint: shard.fingerprint };
    } catch (err) {
      traced?.failed(ShardmaxError.from(err).code);
      throw err;
    } finally {
      traced?.end();
    }
  }
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A call's metadata as the plain text headers a trace context is read from (only when tracing is on). */
function headersOf(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) if (typeof value === "string") out[key] = value;
  return out;
}
