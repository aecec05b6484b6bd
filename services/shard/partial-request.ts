/**
 * Checks a Partial request against the shard before it is queued, so a bad
 * call fails alone and never reaches a batch; every refusal names the field.
 *
 * The `bytes` fields are checked where they lie in the received frame (any
 * alignment, read byte-wise) and are not copied here: the batcher copies them
 * once, into the aligned arrays of the batch that runs them.
 */
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import type { PartialRequestMessage } from "../../shared/grpc/messages.js";
import type { RowOptionFields } from "../../shared/grpc/partial-codec.js";
import { decodeOptions } from "../../shared/grpc/partial-codec.js";
import type { OptionName, RowOptions } from "../../shared/math/row-options.js";
import type { ClassRange } from "../../shared/ranges.js";
import { isSeed, MAX_SEED } from "../../shared/sampling/gumbel.js";
import { MAX_CHAIN } from "../../shared/sampling/sample-scan.js";
import { quoteShort } from "../../shared/text/quote-short.js";
import type { ShardCall } from "./batcher.js";

/** Fingerprints are "sha256:" + 64 hex digits; anything much longer is not one. */
export const MAX_FINGERPRINT_CHARS = 128;

/** A PartialRequest as received (generated from shard.proto); its per-row option columns may be left out (all default). */
export type PartialRequestFields = Omit<PartialRequestMessage, OptionName> & RowOptionFields;

/** Most Gumbel-max draws a row may ask of a shard (the gateway's --max-draws is below it). */
export const MAX_DRAWS_PER_ROW = 1024;
/** Most mass points a row may ask: top-p's second round asks at most one per record of its chains. */
export const MAX_POINTS_PER_ROW = MAX_DRAWS_PER_ROW * (MAX_CHAIN + 1);

export interface PartialLimits {
  maxRows: number;
  maxTopK: number;
}

export interface ServedHead {
  range: ClassRange;
  dim: number;
  fingerprint: string;
}

export function decodePartialRequest(request: PartialRequestFields, shard: ServedHead, limits: PartialLimits): ShardCall {
  if (request.fingerprint.length > MAX_FINGERPRINT_CHARS) {
    throw invalidField(
      "fingerprint",
      `has ${request.fingerprint.length} characters, the limit is ${MAX_FINGERPRINT_CHARS}: ${quoteShort(request.fingerprint)}`,
    );
  }
  if (request.fingerprint && request.fingerprint !== shard.fingerprint) {
    throw new ShardmaxError("MODEL_MISMATCH", `fingerprint: this shard serves ${shard.fingerprint}, the request expects ${quoteShort(request.fingerprint)}`);
  }
  const { rows, dim } = request;
  if (rows < 1) throw invalidField("rows", "must be at least 1");
  if (rows > limits.maxRows) throw new ShardmaxError("RESOURCE_EXHAUSTED", `rows: ${rows} is over this shard's limit of ${limits.maxRows}`);
  if (dim !== shard.dim) throw invalidField("dim", `is ${dim}, this head has d=${shard.dim}`);
  if (request.hidden.byteLength !== rows * dim * 4) {
    throw invalidField("hidden", `has ${request.hidden.byteLength} bytes, rows×dim×4 = ${rows * dim * 4}`);
  }
  if (request.topK > limits.maxTopK) throw invalidField("top_k", `${request.topK} is over the limit of ${limits.maxTopK}`);
  const options = decodeRowOptions(request, rows, limits);
  const bad = firstNonFiniteFloat32(request.hidden);
  if (bad >= 0) throw invalidField("hidden", `row ${Math.floor(bad / dim)} has a non-finite value`);
  const counts = request.targetCounts.length === 0 ? new Uint32Array(rows) : Uint32Array.from(request.targetCounts);
  if (counts.length !== rows) throw invalidField("target_counts", `has ${counts.length} entries for ${rows} rows`);
  if (request.targetIds.byteLength % 4 !== 0) throw invalidField("target_ids", `${request.targetIds.byteLength} bytes is not a whole number of uint32 ids`);
  const ids = request.targetIds.byteLength / 4;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== ids) throw invalidField("target_ids", `has ${ids} ids, target_counts sum to ${total}`);
  for (let i = 0; i < ids; i++) {
    const id = request.targetIds.readUInt32LE(i * 4);
    if (!shard.range.contains(id)) throw invalidField("target_ids", `class ${id} is not in this shard's range ${shard.range}`);
  }
  return { rows, hidden: request.hidden, topK: request.topK, options, targetCounts: counts, targetIds: request.targetIds };
}

/** Temperature and sampling options per row, each checked; a scalar temperature stands for every row. */
function decodeRowOptions(request: PartialRequestFields, rows: number, limits: PartialLimits): RowOptions {
  const decoded = decodeOptions(request, rows);
  const scalar = request.temperature === 0 ? 1 : request.temperature;
  if (!Number.isFinite(scalar) || scalar < 0) throw invalidField("temperature", "must be a finite number > 0");
  const options = decoded.temperatures.length === 0 && scalar !== 1 ? { ...decoded, temperatures: new Float64Array(rows).fill(scalar) } : decoded;
  const check = (name: OptionName, ok: (v: number) => boolean, rule: string) => {
    options[name].forEach((v, r) => {
      if (!ok(v)) throw invalidField(`${name}[${r}]`, `${rule}, got ${v}`);
    });
  };
  check("temperatures", (t) => Number.isFinite(t) && t > 0, "must be a finite number > 0");
  check("drawCounts", (n) => n <= MAX_DRAWS_PER_ROW, `must be at most ${MAX_DRAWS_PER_ROW}`);
  check("seeds", isSeed, `must be an integer from 0 to ${MAX_SEED}`);
  check("sampleTopK", (k) => k <= limits.maxTopK, `must be at most ${limits.maxTopK}`);
  check("topP", (p) => p >= 0 && p <= 1, "must be in [0, 1]");
  check("minP", (p) => p >= 0 && p < 1, "must be in [0, 1)");
  check("pointCounts", (n) => n <= MAX_POINTS_PER_ROW, `must be at most ${MAX_POINTS_PER_ROW}`);
  check("pointLogits", (z) => !Number.isNaN(z), "must be a number");
  return options;
}

/**
 * Index of the first NaN or ±∞ among little-endian float32s at any byte
 * offset, or −1. A float32 is non-finite exactly when its 8 exponent bits are
 * all ones: bits 0–6 of its high byte and bit 7 of the byte below.
 */
export function firstNonFiniteFloat32(bytes: Uint8Array): number {
  for (let at = 3; at < bytes.length; at += 4) {
    if ((bytes[at]! & 0x7f) === 0x7f && (bytes[at - 1]! & 0x80) === 0x80) return (at - 3) / 4;
  }
  return -1;
}
