/**
 * Real shards in the test process: for each range, a real onnxruntime session
 * over the head's rows (optionally cut into small blocks, so the block
 * combine runs too), the real batcher and the real gRPC server on port 0.
 * Faster to start than processes, for tests that need many layouts.
 */

import { partialBatches } from "../../services/shard/batch-partial.js";
import { Batcher } from "../../services/shard/batcher.js";
import { ShardServer } from "../../services/shard/server.js";
import { ShardSession } from "../../services/shard/session.js";
import type { ServingTls } from "../../shared/grpc/tls.js";
import { silentLogger } from "../../shared/log.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { ClassRange } from "../../shared/ranges.js";
import type { Head } from "./reference-softmax.js";

export interface InProcessShards {
  addresses: string[];
  stop(): Promise<void>;
}

/** Wraps a shard's run, e.g. to stall one replica as a SIGSTOPped process would (index: the shard's place in `ranges`). */
export type RunWrapper = (index: number, run: () => Promise<BatchPartial>, signal: AbortSignal) => Promise<BatchPartial>;

export async function startInProcessShards(
  head: Head,
  ranges: [number, number][],
  options: { blockRows?: number; maxRows?: number; tls?: ServingTls; wrapRun?: RunWrapper } = {},
): Promise<InProcessShards> {
  const maxRows = options.maxRows ?? 256;
  const started = await Promise.all(
    ranges.map(async ([start, end], index) => {
      const range = ClassRange.of(start, end);
      const weights = {
        rows: range.size,
        dim: head.dim,
        weight: Float32Array.from(head.weight.subarray(start * head.dim, end * head.dim)),
        bias: Float32Array.from(head.bias.subarray(start, end)),
      };
      const session = await ShardSession.create(range, weights, { threads: 1, ...(options.blockRows ? { blockRows: options.blockRows } : {}) });
      const batcher = new Batcher(
        partialBatches((batch) => session.run(batch)),
        { dim: head.dim, maxBatchRows: maxRows, maxQueueDelayUs: 0, maxQueueRows: 1 << 16 },
      );
      const server = new ShardServer({ maxRows, maxTopK: 1000, maxMessageBytes: 64 << 20, log: silentLogger, tls: options.tls });
      const port = await server.listen("127.0.0.1:0");
      server.setReady({
        range,
        vocabSize: head.vocabSize,
        dim: head.dim,
        fingerprint: "sha256:test-head",
        dtype: "F32",
        hasBias: true,
        source: "test",
        run: (call, signal) => (options.wrapRun ? options.wrapRun(index, () => batcher.run(call, signal), signal) : batcher.run(call, signal)),
        logits: (batch) => session.logits(batch),
      });
      return { address: `127.0.0.1:${port}`, server, session };
    }),
  );
  return {
    addresses: started.map((s) => s.address),
    stop: async () => {
      await Promise.all(started.map((s) => s.server.shutdown(100)));
      await Promise.all(started.map((s) => s.session.close()));
    },
  };
}
