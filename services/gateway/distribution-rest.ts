/**
 * POST /v1/distribution: every class's log-prob for each row, as JSON (the
 * default) or, with `Accept: application/octet-stream`, as raw float32 LE,
 * rows one after another, exactly 4·V bytes each (V and the row count are in
 * the headers). Both are written chunk by chunk as the shards answer, each
 * write waiting for the socket to drain, so a slow client slows the shards
 * instead of filling the gateway.
 *
 * Failures before the first byte are the usual error envelope. After it the
 * status line is gone, so a failure destroys the connection: the client sees
 * a body shorter than Content-Length (octet-stream) or a cut JSON text, never
 * a complete-looking answer built from a subset of the classes.
 */
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { ShardmaxError } from "../../shared/errors.js";
import type { Logger } from "../../shared/log.js";
import type { DistributionChunk } from "../../shared/results.js";
import type { RowAdmission } from "./admission.js";
import type { DistributionService, OpenDistribution } from "./distribution.js";
import { HIDDEN_SCHEMA, hiddenFromJson } from "./hidden-json.js";
import { ERROR_RESPONSES } from "./rest-v1-schemas.js";
import type { ModelRef } from "./topology.js";

/** Upper bound of one log-prob in JSON: a float32 printed as a double ("-0.00012345678901234567" is 23) and a comma. */
export const JSON_BYTES_PER_VALUE = 25;
/** A row's frame in JSON ({"logZ":…,"logprobs":[]}) and the answer's. */
const JSON_ROW_BYTES = 64;
const JSON_FRAME_BYTES = 512;

export const OCTET_STREAM = "application/octet-stream";

interface DistributionBody {
  hidden: number[][];
  temperature?: number;
}

const schema = {
  type: "object",
  required: ["hidden"],
  additionalProperties: false,
  properties: {
    hidden: HIDDEN_SCHEMA,
    temperature: { type: "number" },
  },
} as const;

export interface DistributionRouteOptions {
  deadlineMs: number;
  admission: RowAdmission;
  maxResponseBytes: number;
  /** Rows per request (--max-rows), checked before the rows are copied. */
  maxRows: number;
  log: Logger;
}

export function jsonDistributionBytes(rows: number, vocabSize: number): number {
  return JSON_FRAME_BYTES + rows * (JSON_ROW_BYTES + vocabSize * JSON_BYTES_PER_VALUE);
}

export function registerDistributionRoute(app: FastifyInstance, distribution: DistributionService, options: DistributionRouteOptions): void {
  app.post<{ Body: DistributionBody }>(
    "/v1/distribution",
    {
      schema: {
        summary: "Every class's log-prob for each row: JSON, or float32 LE rows with Accept: application/octet-stream",
        tags: ["v1"],
        body: schema,
        response: {
          200: {
            description: "JSON {model, results: [{logZ, logprobs}]}, or 4·V bytes per row (X-Shardmax-Rows, X-Shardmax-Vocab-Size)",
            content: { "application/json": { schema: { type: "object" } }, [OCTET_STREAM]: { schema: { type: "string", format: "binary" } } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const input = fromJson(request.body, options.maxRows);
      const binary = (request.headers.accept ?? "").includes(OCTET_STREAM);
      const deadline = new Date(Date.now() + options.deadlineMs);
      const jsonFits = (model: ModelRef) => {
        const bytes = jsonDistributionBytes(input.rows, model.vocabSize);
        if (bytes > options.maxResponseBytes) {
          throw new ShardmaxError(
            "REQUEST_TOO_LARGE",
            `answer: ${input.rows} rows × V ${model.vocabSize} log-probs as JSON would be about ${bytes} bytes, over --max-response-bytes ${options.maxResponseBytes}; ` +
              `send fewer rows or ask for Accept: ${OCTET_STREAM} (4·V bytes per row)`,
          );
        }
      };
      await options.admission.run(input.rows, async () => {
        const open = await distribution.open(input, deadline, binary ? undefined : jsonFits);
        void reply.hijack();
        await send(open, reply.raw, binary, distribution, options.log);
      });
    },
  );
}

function fromJson(body: DistributionBody, maxRows: number): { rows: number; dim: number; hidden: Float32Array; temperature: number } {
  return { ...hiddenFromJson(body.hidden, maxRows), temperature: body.temperature ?? 1 };
}

async function send(open: OpenDistribution, res: ServerResponse, binary: boolean, distribution: DistributionService, log: Logger): Promise<void> {
  const { model, logZ } = open;
  const rows = logZ.length;
  res.on("close", () => {
    if (!res.writableFinished) open.cancel();
  });
  const headers = { "x-shardmax-rows": String(rows), "x-shardmax-vocab-size": String(model.vocabSize), "x-shardmax-fingerprint": model.fingerprint };
  if (binary) res.writeHead(200, { ...headers, "content-type": OCTET_STREAM, "content-length": String(rows * model.vocabSize * 4) });
  else res.writeHead(200, { ...headers, "content-type": "application/json; charset=utf-8" });
  let pending = 0;
  const write = async (data: Buffer | string) => {
    pending++;
    distribution.stats.maxPendingWrites = Math.max(distribution.stats.maxPendingWrites, pending);
    if (!res.write(data, () => pending--)) await drainedOrClosed(res);
    if (res.destroyed) throw new ShardmaxError("CANCELLED", "the client closed the connection");
  };
  try {
    if (!binary) await write(`{"model":${JSON.stringify(model)},"results":[`);
    for await (const chunk of open.chunks) {
      await write(binary ? Buffer.from(chunk.logprobs.buffer, chunk.logprobs.byteOffset, chunk.logprobs.byteLength) : jsonPiece(chunk, model.vocabSize));
    }
    if (!binary) await write("]}");
    res.end();
  } catch (err) {
    const error = ShardmaxError.from(err);
    if (error.code !== "CANCELLED") log.warn("distribution failed mid-stream; connection closed", { code: error.code, error: error.message });
    open.cancel();
    res.destroy();
  }
}

/** The JSON text of one chunk: a row's opening before its first class, its closing after its last. */
function jsonPiece(chunk: DistributionChunk, vocabSize: number): string {
  const values = Array.from(chunk.logprobs, (v) => (Number.isFinite(v) ? String(v) : "null")).join(",");
  const open = chunk.start === 0 ? `${chunk.row === 0 ? "" : ","}{"logZ":${Number.isFinite(chunk.logZ) ? chunk.logZ : null},"logprobs":[` : ",";
  const close = chunk.start + chunk.logprobs.length === vocabSize ? "]}" : "";
  return open + values + close;
}

function drainedOrClosed(res: ServerResponse): Promise<unknown> {
  const gone = new AbortController();
  return Promise.race([once(res, "drain", { signal: gone.signal }), once(res, "close", { signal: gone.signal })])
    .catch(() => {})
    .finally(() => gone.abort());
}
