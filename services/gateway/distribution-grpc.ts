/**
 * Softmax.Distribution, the gRPC door of the full distribution: a server
 * stream of `{ row, start, logprobs, log_z }` chunks in row-major order.
 * Each write that grpc-js refuses waits for 'drain', so a slow client slows
 * the shards; a cancelled call (or one past its deadline) cancels the shard
 * streams; a failure mid-stream ends the call with an error status, so a
 * client never mistakes a partial distribution for a whole one.
 */
import type * as grpc from "@grpc/grpc-js";
import { invalidField, ShardmaxError } from "../../shared/errors.js";
import { drained } from "../../shared/grpc/drained.js";
import { callDeadlineOf, toServiceError } from "../../shared/grpc/errors.js";
import type { DistributionChunkOut, DistributionRequestMessage } from "../../shared/grpc/messages.js";
import { float32From } from "../../shared/tensor-bytes.js";
import type { GatewayCore } from "./core.js";

type Call = grpc.ServerWritableStream<DistributionRequestMessage, DistributionChunkOut>;

/** Protobuf framing of a chunk besides its log-probs (row, start, log_z, tags). */
const CHUNK_FRAMING_BYTES = 64;

/** `maxSendBytes` is the door's message limit: a chunk larger than it goes out in pieces. */
export function distributionHandler(core: GatewayCore, maxSendBytes: number): (call: Call) => void {
  const maxFloats = Math.max(1, Math.floor((maxSendBytes - CHUNK_FRAMING_BYTES) / 4));
  return (call) => {
    const gone = new AbortController();
    call.once("cancelled", () => gone.abort());
    stream(call, core, maxFloats, gone.signal).then(
      () => call.end(),
      (err: unknown) => {
        if (!gone.signal.aborted) call.emit("error", toServiceError(ShardmaxError.from(err)));
      },
    );
  };
}

async function stream(call: Call, core: GatewayCore, maxFloats: number, gone: AbortSignal): Promise<void> {
  const { distribution, admission } = core;
  if (!distribution) throw new ShardmaxError("NOT_FOUND", "Distribution: not served by this gateway");
  const request = call.request;
  const hidden = float32From(request.hidden, "hidden");
  if (hidden.length !== request.rows * request.dim) throw invalidField("hidden", `has ${hidden.length} floats, rows×dim = ${request.rows * request.dim}`);
  const deadline = core.deadline(callDeadlineOf(call));
  const input = { rows: request.rows, dim: request.dim, hidden, temperature: request.temperature ?? 1 };
  await admission.run(input.rows, async () => {
    const open = await distribution.open(input, deadline);
    gone.addEventListener("abort", () => open.cancel(), { once: true });
    let pending = 0;
    for await (const chunk of open.chunks) {
      for (let at = 0; at < chunk.logprobs.length; at += maxFloats) {
        if (gone.aborted) return;
        pending++;
        distribution.stats.maxPendingWrites = Math.max(distribution.stats.maxPendingWrites, pending);
        const piece = chunk.logprobs.subarray(at, at + maxFloats);
        const message = { row: chunk.row, start: chunk.start + at, logprobs: Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength), logZ: chunk.logZ };
        if (!call.write(message, () => pending--)) await drained(call, gone);
      }
    }
  });
}
