/**
 * The shard's side of the full distribution: `Shard.Logits` streams the
 * scaled logits z of every owned class, row by row, for the gateway to turn
 * into log p = z − logZ once the global logZ is known.
 *
 * Rows run in groups, one onnxruntime pass over every block per group, so the
 * weights are read once per group rather than once per row; a group holds at
 * most GROUP_BYTES of logits, which bounds what one stream costs the shard.
 * The chunks go out in row-major order (row, then class), each at most
 * CHUNK_CLASSES classes, and only as fast as the caller reads them: a write
 * refused by grpc-js waits for 'drain'. All streams of a shard share
 * BUDGET_BYTES of groups (byte-budget.ts): a stream over it waits its turn,
 * so open streams cost the shard a bounded amount whatever their clients do.
 * A cancelled call (the caller went away or its deadline passed) stops
 * before the next group is computed.
 */
import type * as grpc from "@grpc/grpc-js";
import { ShardmaxError } from "../../shared/errors.js";
import { drained } from "../../shared/grpc/drained.js";
import { callDeadlineOf, toServiceError } from "../../shared/grpc/errors.js";
import type { LogitsRequestMessage } from "../../shared/grpc/messages.js";
import { filled } from "../../shared/math/row-options.js";
import type { ClassRange } from "../../shared/ranges.js";
import { float32From } from "../../shared/tensor-bytes.js";
import type { ByteBudget } from "./byte-budget.js";
import { decodePartialRequest, type PartialLimits } from "./partial-request.js";
import type { LogitsBatch } from "./session.js";

/** Logits one group of rows may hold in the shard. */
export const GROUP_BYTES = 16 * 1024 * 1024;
/** Logits all of a shard's streams may hold at once; a group over it waits for another stream's group to be sent. */
export const BUDGET_BYTES = 4 * GROUP_BYTES;
/** Classes per chunk (64 KiB of float32): small enough for fine-grained back-pressure, large enough to amortise framing. */
export const CHUNK_CLASSES = 16384;

export type { LogitsRequestMessage };

export interface LogitsSource {
  range: ClassRange;
  dim: number;
  fingerprint: string;
  /** [rows, range size] scaled logits, row-major. */
  logits(batch: LogitsBatch): Promise<Float32Array>;
}

/** Rows per group for a slice of `classes` classes. */
export function groupRows(classes: number, rows: number): number {
  return Math.max(1, Math.min(rows, Math.floor(GROUP_BYTES / (4 * classes))));
}

export async function streamLogits(
  call: grpc.ServerWritableStream<LogitsRequestMessage, object>,
  shard: LogitsSource,
  limits: PartialLimits,
  budget: ByteBudget,
): Promise<void> {
  const gone = new AbortController();
  call.once("cancelled", () => gone.abort());
  // grpc-js ends a call past its deadline with DEADLINE_EXCEEDED but may not say 'cancelled': stop computing then too.
  const deadline = callDeadlineOf(call);
  const timer = deadline ? setTimeout(() => gone.abort(), Math.max(0, deadline.getTime() - Date.now())) : null;
  try {
    // The Partial's checks, field for field: fingerprint, rows limit, dim, hidden size, finite values, temperature.
    const checked = decodePartialRequest({ ...call.request, topK: 0, targetCounts: [], targetIds: Buffer.alloc(0) }, shard, limits);
    const hidden = float32From(checked.hidden, "hidden");
    const { rows } = checked;
    const size = shard.range.size;
    const perGroup = groupRows(size, rows);
    for (let first = 0; first < rows; first += perGroup) {
      if (gone.signal.aborted) return;
      const count = Math.min(perGroup, rows - first);
      const batch = {
        rows: count,
        hidden: hidden.slice(first * shard.dim, (first + count) * shard.dim),
        temperature: filled(checked.options, "temperatures", rows).slice(first, first + count) as Float64Array,
      };
      const held = count * size * 4;
      await budget.acquire(held, gone.signal);
      try {
        const logits = await shard.logits(batch);
        for (let r = 0; r < count; r++) {
          for (let offset = 0; offset < size; offset += CHUNK_CLASSES) {
            if (gone.signal.aborted) return;
            const n = Math.min(CHUNK_CLASSES, size - offset);
            const bytes = Buffer.from(logits.buffer, logits.byteOffset + (r * size + offset) * 4, n * 4);
            if (!call.write({ row: first + r, start: shard.range.start + offset, logits: bytes })) await drained(call, gone.signal);
          }
        }
      } finally {
        budget.release(held);
      }
    }
    call.end();
  } catch (err) {
    if (!gone.signal.aborted) call.emit("error", toServiceError(ShardmaxError.from(err)));
  } finally {
    if (timer) clearTimeout(timer);
  }
}
