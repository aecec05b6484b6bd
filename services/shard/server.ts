/**
 * The shard's gRPC server: `shardmax.v1.Shard` and `grpc.health.v1.Health`.
 * It listens before the slice is loaded, so health says NOT_SERVING (and
 * Partial says UNAVAILABLE) while loading; readiness probes rely on that.
 * On shutdown it says NOT_SERVING again, stops taking calls and lets the
 * in-flight ones finish.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ShardmaxError, invalidField } from "../../shared/errors.js";
import { toServiceError } from "../../shared/grpc/errors.js";
import { messageLimits, shardmaxProto } from "../../shared/grpc/proto.js";
import type { Logger } from "../../shared/log.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import type { ClassRange } from "../../shared/ranges.js";
import { float32From, toBytes, uint32From } from "../../shared/tensor-bytes.js";
import type { PartialBatch } from "./session.js";

/** What the server needs of a loaded shard; the session (or a batcher) provides it. */
export interface LoadedShard {
  range: ClassRange;
  vocabSize: number;
  dim: number;
  fingerprint: string;
  dtype: string;
  hasBias: boolean;
  source: string;
  run(batch: PartialBatch): Promise<BatchPartial>;
}

export interface ShardServerOptions {
  maxRows: number;
  maxTopK: number;
  maxMessageBytes: number;
  log: Logger;
}

const SERVICE_NAME = "shardmax.v1.Shard";
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
  private loadingNote = "loading";

  constructor(private readonly options: ShardServerOptions) {
    this.server = new grpc.Server(messageLimits(options.maxMessageBytes));
    this.health.addToServer(this.server);
    this.server.addService(shardmaxProto().Shard.service, {
      info: this.unary(() => this.info()),
      partial: this.unary((request) => this.partial(request)),
    });
  }

  async listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
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
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private unary<Req, Res>(handler: (request: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      Promise.resolve()
        .then(() => handler(call.request))
        .then(
          (response) => callback(null, response),
          (err: unknown) => {
            const error = ShardmaxError.from(err);
            if (error.code === "INTERNAL") this.options.log.error("partial failed", { error: error.message });
            callback(toServiceError(error));
          },
        );
    };
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

  private async partial(request: PartialRequestMessage): Promise<object> {
    const shard = this.loaded();
    const batch = decodePartialRequest(request, shard, this.options);
    const result = await shard.run(batch);
    return {
      rows: result.rows,
      k: result.k,
      max: toBytes(result.max),
      sumExp: toBytes(result.sumExp),
      topIds: toBytes(result.topIds),
      topLogits: toBytes(result.topLogits),
      targetLogits: toBytes(result.targetLogits),
      fingerprint: shard.fingerprint,
    };
  }
}

interface PartialRequestMessage {
  rows: number;
  dim: number;
  hidden: Buffer;
  topK: number;
  temperature: number;
  targetCounts: number[];
  targetIds: Buffer;
  fingerprint: string;
}

/** Checks a Partial request against the shard; every refusal names the field. */
function decodePartialRequest(request: PartialRequestMessage, shard: LoadedShard, limits: ShardServerOptions): PartialBatch {
  if (request.fingerprint && request.fingerprint !== shard.fingerprint) {
    throw new ShardmaxError("MODEL_MISMATCH", `fingerprint: this shard serves ${shard.fingerprint}, the request expects ${request.fingerprint}`);
  }
  const { rows, dim } = request;
  if (rows < 1) throw invalidField("rows", "must be at least 1");
  if (rows > limits.maxRows) throw new ShardmaxError("RESOURCE_EXHAUSTED", `rows: ${rows} is over this shard's limit of ${limits.maxRows}`);
  if (dim !== shard.dim) throw invalidField("dim", `is ${dim}, this head has d=${shard.dim}`);
  if (request.hidden.byteLength !== rows * dim * 4) {
    throw invalidField("hidden", `has ${request.hidden.byteLength} bytes, rows×dim×4 = ${rows * dim * 4}`);
  }
  if (request.topK > limits.maxTopK) throw invalidField("top_k", `${request.topK} is over the limit of ${limits.maxTopK}`);
  const temperature = request.temperature === 0 ? 1 : request.temperature;
  if (!Number.isFinite(temperature) || temperature < 0) throw invalidField("temperature", "must be a finite number > 0");
  const hidden = float32From(request.hidden, "hidden");
  for (let i = 0; i < hidden.length; i++) {
    if (!Number.isFinite(hidden[i]!)) throw invalidField("hidden", `row ${Math.floor(i / dim)} has a non-finite value`);
  }
  const counts = request.targetCounts.length === 0 ? new Uint32Array(rows) : Uint32Array.from(request.targetCounts);
  if (counts.length !== rows) throw invalidField("target_counts", `has ${counts.length} entries for ${rows} rows`);
  const targetIds = uint32From(request.targetIds, "target_ids");
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== targetIds.length) throw invalidField("target_ids", `has ${targetIds.length} ids, target_counts sum to ${total}`);
  for (const id of targetIds) {
    if (!shard.range.contains(id)) throw invalidField("target_ids", `class ${id} is not in this shard's range ${shard.range}`);
  }
  return { rows, hidden, topK: request.topK, temperature: new Float32Array(rows).fill(temperature), targetCounts: counts, targetIds };
}
