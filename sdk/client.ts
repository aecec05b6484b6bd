/**
 * The TypeScript client of a shardmax gateway's gRPC service.
 *
 *   const client = new ShardmaxClient("127.0.0.1:50050");
 *   const { results } = await client.query({ hidden: [[0.1, …]], topK: 5 });
 *   client.close();
 *
 * Results have the same shape as the REST API's. Failures reject with a
 * ShardmaxError whose `code` is the gateway's (INVALID_ARGUMENT, UNAVAILABLE, …).
 */
import * as grpc from "@grpc/grpc-js";
import { invalidField, ShardmaxError } from "../shared/errors.js";
import type { DistributionChunkMessage, ModelInfoMessage, QueryRequest, QueryResponseMessage, SoftmaxStub } from "../shared/grpc/messages.js";
import { DEFAULT_MAX_MESSAGE_BYTES, messageLimits, shardmaxProto } from "../shared/grpc/proto.js";
import { isSeed, MAX_SEED } from "../shared/sampling/gumbel.js";
import { float32From, toBytes } from "../shared/tensor-bytes.js";
import type {
  DistributionChunk,
  DistributionInput,
  DistributionRows,
  ModelInfo,
  QueryInput,
  QueryOptions,
  QueryResult,
  RowResult,
  SampleInput,
} from "./types.js";

export interface ClientOptions {
  /** Deadline of a call when its own options give none (default 30 000 ms). */
  defaultDeadlineMs?: number;
  /** Largest message sent or received (default 256 MiB). */
  maxMessageBytes?: number;
  /** Extra grpc-js channel options, e.g. keepalive. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * TLS to the gateway (PEM strings or Buffers): `ca` to trust (unset: the
   * system's roots), `cert` + `key` for a gateway with --tls-client-ca, and
   * `serverName` when the certificate does not name the dialled host.
   */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; serverName?: string };
  /** Sent as `authorization: Bearer KEY` on every call, for a gateway with --api-keys. */
  apiKey?: string;
}

const bytes = (pem: string | Buffer | undefined) => (pem === undefined ? null : Buffer.from(pem));

export class ShardmaxClient {
  private readonly client: SoftmaxStub;
  private readonly defaultDeadlineMs: number;
  private readonly apiKey: string | undefined;

  /** `address` is the gateway's gRPC `host:port`. */
  constructor(address: string, options: ClientOptions = {}) {
    const Ctor = shardmaxProto().Softmax;
    const tls = options.tls;
    if (tls && (tls.cert === undefined) !== (tls.key === undefined)) throw invalidField("tls", "cert and key go together");
    const credentials = tls ? grpc.credentials.createSsl(bytes(tls.ca), bytes(tls.key), bytes(tls.cert)) : grpc.credentials.createInsecure();
    this.client = new Ctor(address, credentials, {
      ...messageLimits(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
      ...(tls?.serverName ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName } : {}),
      ...options.channelOptions,
    });
    this.apiKey = options.apiKey;
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? 30_000;
  }

  /** Exact softmax results for each row of `hidden`. */
  async query(input: QueryInput, options: QueryOptions = {}): Promise<QueryResult> {
    const { hidden, rows, dim } = packHidden(input);
    const request: QueryRequest = {
      rows,
      dim,
      hidden: toBytes(hidden),
      topK: input.topK,
      temperature: input.temperature,
      targets: (input.targets ?? []).map((ids) => ({ ids })),
      sample: input.sample && sampleMessage(input.sample),
    };
    const response = await this.unary<QueryResponseMessage>(
      (deadline, done) => this.client.query(request, this.metadata(), { deadline }, done),
      options.deadlineMs,
    );
    return { model: response.model!, results: response.results.map(toRowResult) };
  }

  /**
   * The log-prob of every class of every row, as chunks in row-major order
   * (classes ascending within a row), read only as fast as the caller
   * iterates. Breaking out of the loop cancels the call. A failure part-way
   * throws: the chunks already seen are not the whole distribution.
   */
  async *distribution(input: DistributionInput, options: QueryOptions = {}): AsyncGenerator<DistributionChunk> {
    const { hidden, rows, dim } = packHidden(input);
    const deadline = new Date(Date.now() + (options.deadlineMs ?? this.defaultDeadlineMs));
    const stream = this.client.distribution({ rows, dim, hidden: toBytes(hidden), temperature: input.temperature }, this.metadata(), { deadline });
    let done = false;
    try {
      for await (const message of stream as AsyncIterable<DistributionChunkMessage>) {
        yield { row: message.row, start: message.start, logprobs: float32From(message.logprobs, "logprobs"), logZ: message.logZ };
      }
      done = true;
    } catch (err) {
      throw ShardmaxError.from(err);
    } finally {
      if (!done) {
        stream.on("error", () => {});
        stream.cancel();
      }
    }
  }

  /** `distribution`, collected: one Float32Array of V log-probs per row. */
  async distributionRows(input: DistributionInput, options: QueryOptions = {}): Promise<DistributionRows> {
    return collectDistribution(this.distribution(input, options));
  }

  /** The model, readiness and shard map, as GET /v1/model reports them. */
  async info(options: QueryOptions = {}): Promise<ModelInfo> {
    const info = await this.unary<ModelInfoMessage>((deadline, done) => this.client.info({}, this.metadata(), { deadline }, done), options.deadlineMs);
    return info as unknown as ModelInfo;
  }

  close(): void {
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.apiKey !== undefined) metadata.set("authorization", `Bearer ${this.apiKey}`);
    return metadata;
  }

  private unary<T>(start: (deadline: Date, done: (err: grpc.ServiceError | null, response?: T) => void) => void, deadlineMs: number | undefined): Promise<T> {
    const deadline = new Date(Date.now() + (deadlineMs ?? this.defaultDeadlineMs));
    return new Promise((resolve, reject) => start(deadline, (err, response) => (err ? reject(ShardmaxError.from(err)) : resolve(response!))));
  }
}

function packHidden(input: QueryInput): { hidden: Float32Array; rows: number; dim: number } {
  if (input.hidden instanceof Float32Array) {
    const dim = input.dim;
    if (!Number.isInteger(dim) || dim === undefined || dim < 1) throw invalidField("dim", "is required (a positive integer) when hidden is a Float32Array");
    if (input.hidden.length % dim !== 0) throw invalidField("hidden", `${input.hidden.length} floats is not a whole number of rows of ${dim}`);
    return { hidden: input.hidden, rows: input.hidden.length / dim, dim };
  }
  if (!Array.isArray(input.hidden)) throw invalidField("hidden", "must be a Float32Array or an array of rows");
  const rows = input.hidden.length;
  const dim = input.dim ?? input.hidden[0]?.length ?? 0;
  const hidden = new Float32Array(rows * dim);
  input.hidden.forEach((row, r) => {
    if (row.length !== dim) throw invalidField(`hidden[${r}]`, `has ${row.length} numbers, expected ${dim}`);
    hidden.set(row, r * dim);
  });
  return { hidden, rows, dim };
}

/** Joins the chunks of `distribution` into one Float32Array per row, checking that they tile each row in order. */
export async function collectDistribution(chunks: AsyncIterable<DistributionChunk>): Promise<DistributionRows> {
  const pieces: Float32Array[][] = [];
  const logZ: number[] = [];
  let next = 0;
  for await (const chunk of chunks) {
    if (chunk.start === 0) {
      if (chunk.row !== pieces.length) throw new ShardmaxError("INTERNAL", `distribution: row ${chunk.row} began after ${pieces.length} rows`);
      pieces.push([]);
      logZ.push(chunk.logZ);
      next = 0;
    }
    if (chunk.row !== pieces.length - 1 || chunk.start !== next) {
      throw new ShardmaxError("INTERNAL", `distribution: row ${chunk.row} classes from ${chunk.start} out of order`);
    }
    pieces[chunk.row]!.push(chunk.logprobs);
    next += chunk.logprobs.length;
  }
  const rows = pieces.map((list) => {
    const row = new Float32Array(list.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of list) {
      row.set(p, at);
      at += p.length;
    }
    return row;
  });
  return { logZ, rows };
}

/** Seeds are checked here: protobuf would turn a negative or fractional uint64 into another seed silently. */
function sampleMessage(sample: SampleInput): object {
  const { seed, ...rest } = sample;
  const check = (s: unknown, field: string) => {
    if (!isSeed(s)) throw invalidField(field, `must be an integer from 0 to ${MAX_SEED}, got ${s}`);
  };
  if (Array.isArray(seed)) seed.forEach((s, r) => check(s, `sample.seed[${r}]`));
  else if (seed !== undefined) check(seed, "sample.seed");
  return Array.isArray(seed) ? { ...rest, seeds: seed } : { ...rest, seed };
}

/** Drops proto3 defaults that REST does not send: an empty label, a target's prob. */
function toRowResult(row: QueryResponseMessage["results"][number]): RowResult {
  const withLabel = <T extends { label?: string }>(x: T): T => {
    if (!x.label) delete x.label;
    return x;
  };
  const result: RowResult = {
    logZ: row.logZ,
    top: row.top.map(withLabel),
    targets: row.targets.map(({ prob: _prob, ...t }) => withLabel(t)),
  };
  if (row.samples.length > 0) {
    result.seed = row.seed!;
    result.samples = row.samples.map(({ prob: _prob, ...s }) => withLabel(s));
  }
  return result;
}
