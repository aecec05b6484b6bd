/**
 * A shard checks every per-row option of a Partial before it queues it
 * (real onnxruntime shard on port 0, real client): each refusal is
 * INVALID_ARGUMENT naming the option and the row, and the shard keeps serving;
 * a good sampled call comes back with one chain per draw.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardClient } from "../../../services/gateway/shard-client.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { defaultOptions, type RowOptions } from "../../../shared/math/row-options.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { randomHead } from "../../helpers/reference-softmax.js";

const V = 300;
const D = 4;
const head = randomHead(41, V, D);
let shards: InProcessShards;
let client: ShardClient;
/** The same shard over unary Partial calls (the stream is `client`'s default): each refusal must read the same on both. */
let unaryClient: ShardClient;

beforeAll(async () => {
  shards = await startInProcessShards(head, [[0, V]]);
  client = new ShardClient(shards.addresses[0]!, 16 << 20);
  unaryClient = new ShardClient(shards.addresses[0]!, 16 << 20, undefined, "unary");
});

afterAll(async () => {
  client?.close();
  unaryClient?.close();
  await shards?.stop();
});

const call = (rows: number, options: Partial<RowOptions>, via: ShardClient = client) =>
  via.partial(
    {
      rows,
      dim: D,
      hidden: new Float32Array(rows * D).fill(0.5),
      topK: 3,
      options: { ...defaultOptions(), ...options },
      targetCounts: new Uint32Array(rows),
      targetIds: new Uint32Array(0),
      fingerprint: "sha256:test-head",
    },
    new Date(Date.now() + 10_000),
  );

describe("per-row options at the shard", () => {
  it.each<[string, Partial<RowOptions>, RegExp]>([
    ["too many draws", { drawCounts: Uint32Array.of(5000) }, /drawCounts\[0\]: must be at most 1024/],
    ["a negative seed", { drawCounts: Uint32Array.of(1), seeds: Float64Array.of(-1) }, /seeds\[0\]/],
    ["a fractional seed", { drawCounts: Uint32Array.of(1), seeds: Float64Array.of(1.5) }, /seeds\[0\]/],
    ["top-p over 1", { topP: Float64Array.of(1.5) }, /topP\[0\]/],
    ["min-p of 1", { minP: Float64Array.of(1) }, /minP\[0\]/],
    ["a zero temperature", { temperatures: Float64Array.of(0) }, /temperatures\[0\]/],
    ["a column of the wrong length", { temperatures: Float64Array.of(1, 2) }, /temperatures: has 2 values for 1 rows/],
    [
      "point logits that do not match the counts",
      { pointCounts: Uint32Array.of(2), pointLogits: Float32Array.of(1), pointIds: Uint32Array.of(1, 2) },
      /point_logits/,
    ],
  ])("refuses %s, naming it", async (_, options, message) => {
    for (const via of [client, unaryClient]) {
      const refused = await call(1, options, via).then(
        () => null,
        (e: unknown) => ShardmaxError.from(e),
      );
      expect(refused?.code).toBe("INVALID_ARGUMENT");
      expect(refused?.message).toMatch(message);
    }
  });

  it("answers a sampled call with one chain per draw, and keeps serving after the refusals", async () => {
    const got = await call(2, { drawCounts: Uint32Array.of(3, 0), seeds: Float64Array.of(7, 0), sampleTopK: Uint32Array.of(2, 0) });
    expect([...got.drawCounts]).toEqual([3, 0]);
    expect(got.drawRecords).toHaveLength(3);
    // Top-2 chains hold at most the shard's two best classes.
    expect(got.recordIds.every((id) => id === got.topIds[0] || id === got.topIds[1])).toBe(true);
  });
});
