/**
 * ShardSession on real onnxruntime sessions, in this process: a slice served
 * as one block or many (down to blocks of one row) answers the same partial,
 * within float32 rounding of the float64 reference; a slice streamed block
 * by block through one reused buffer (as a shard loads from disk) answers the
 * same, which also proves onnxruntime keeps its own copy of each block.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowsPerBlock } from "../../services/shard/block-plan.js";
import { type PartialBatch, ShardSession, type SliceSource } from "../../services/shard/session.js";
import type { BatchPartial } from "../../shared/math/partial.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { randomHead, randomHidden, referenceLogits, referenceLogSumExp, referenceTopK } from "../helpers/reference-softmax.js";

const V = 1009;
const D = 24;
const RANGE = ClassRange.of(150, 950);
const head = randomHead(3, V, D);
// A tie straddling the boundary of 97-row blocks (150 + 97 = 247), and a dead block.
head.weight.copyWithin(247 * D, 246 * D, 247 * D);
head.bias[247] = head.bias[246]!;
for (let i = 700; i < 760; i++) head.bias[i] = -Infinity;
const hidden = randomHidden(5, 4, D).map((row) => Float32Array.from(row));
hidden.push(Float32Array.from({ length: D }, (_, j) => 3 * head.weight[246 * D + j]!));

const slice = {
  rows: RANGE.size,
  dim: D,
  weight: Float32Array.from(head.weight.subarray(RANGE.start * D, RANGE.end * D)),
  bias: Float32Array.from(head.bias.subarray(RANGE.start, RANGE.end)),
};
const K = 7;
const targets = hidden.map((_, r) => [RANGE.start, RANGE.end - 1, 247, 247, 700 + r, 151 + 37 * r]);
const batch: PartialBatch = {
  rows: hidden.length,
  hidden: Float32Array.from(hidden.flatMap((h) => Array.from(h))),
  topK: K,
  options: { ...defaultOptions(), temperatures: Float64Array.from(hidden, (_, r) => (r === 1 ? 0.5 : 1)) },
  targetCounts: Uint32Array.from(targets, (t) => t.length),
  targetIds: Uint32Array.from(targets.flat()),
};

/** The slice's own float64 logits for row r (temperature applied). */
const sliceLogits = (r: number) => referenceLogits(head, hidden[r]!, batch.options.temperatures[r]!).subarray(RANGE.start, RANGE.end);

function expectExact(got: BatchPartial): void {
  expect(got.k).toBe(K);
  let next = 0;
  hidden.forEach((_, r) => {
    const z = sliceLogits(r);
    const logSum = got.max[r]! + Math.log(got.sumExp[r]!);
    expect(Math.abs(logSum - referenceLogSumExp(z))).toBeLessThan(1e-4);
    expect(Array.from(got.topIds.subarray(r * K, (r + 1) * K))).toEqual(referenceTopK(z, K).map((i) => i + RANGE.start));
    for (const id of targets[r]!) {
      const want = z[id - RANGE.start]!;
      const value = got.targetLogits[next++]!;
      if (want === -Infinity) expect(value).toBe(-Infinity);
      else expect(Math.abs(value - want)).toBeLessThan(1e-4);
    }
  });
}

const sessions: ShardSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
});

async function create(source: Parameters<typeof ShardSession.create>[1], blockRows?: number): Promise<ShardSession> {
  const session = await ShardSession.create(RANGE, source, { threads: 1, blockRows });
  sessions.push(session);
  return session;
}

describe.each([undefined, 800, 97, 13, 1])("in memory, blockRows %s", (blockRows) => {
  let session: ShardSession;
  beforeAll(async () => {
    session = await create(slice, blockRows);
  });

  it("has the planned number of blocks", () => {
    expect(session.blockCount).toBe(Math.ceil(RANGE.size / (blockRows ?? RANGE.size)));
  });

  it("matches the float64 reference: log-sum, top-k (ties by id across blocks), targets", async () => {
    expectExact(await session.run(batch));
  });
});

it("streamed block by block through one reused buffer, it answers exactly what the in-memory slice does", async () => {
  const buffers = new Set<ArrayBufferLike>();
  const source: SliceSource = {
    rows: RANGE.size,
    dim: D,
    hasBias: true,
    async read(local, weight, bias) {
      buffers.add(weight.buffer);
      weight.set(slice.weight.subarray(local.start * D, local.end * D));
      bias!.set(slice.bias.subarray(local.start, local.end));
      // Leave garbage behind the block's rows: a session that kept aliasing the buffer would see it.
      weight.fill(NaN, local.size * D);
    },
  };
  const streamed = await create(source, 97);
  const inMemory = await create(slice, 97);
  expect(buffers.size).toBe(1);
  const [a, b] = [await streamed.run(batch), await inMemory.run(batch)];
  expectExact(a);
  expect(a).toEqual(b);
});

it("k above the slice size is clamped; k = 0 gives only max and sum", async () => {
  const session = await create(slice, 300);
  const all = await session.run({ ...batch, topK: 5000 });
  expect(all.k).toBe(RANGE.size);
  // Every class of the slice once, the −∞ ones (700…759) last and by id: never a padding row of a block.
  const dead = Array.from({ length: 60 }, (_, i) => 700 + i);
  hidden.forEach((_, r) => {
    const ids = Array.from(all.topIds.subarray(r * RANGE.size, (r + 1) * RANGE.size));
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: RANGE.size }, (_, i) => RANGE.start + i));
    expect(ids.slice(-dead.length)).toEqual(dead);
  });
  const none = await session.run({ ...batch, topK: 0 });
  expect(none.k).toBe(0);
  expect(none.max).toEqual(all.max);
});

it("default blocks: ~1/8 of the slice, at least 32 MiB, at most 1 GiB of weights, whole groups of 256 rows", () => {
  expect(rowsPerBlock(65536, 1024)).toBe(8192); // 256 MiB slice → 8 blocks of 32 MiB
  expect(rowsPerBlock(100_000, 8192)).toBe(12544); // 3.05 GiB slice → 8 blocks of 392 MiB (whole groups of 256 rows)
  expect(rowsPerBlock(1000, 64)).toBe(1000); // 250 KiB: one block
  expect(rowsPerBlock(4_000_000, 4096)).toBe(65536); // 61 GiB: blocks of 1 GiB
  expect(rowsPerBlock(1000, 64, 7)).toBe(7);
});

it("the exp-sum keeps float64-level precision over a block of 200 003 classes (flat, skewed and extreme logits)", async () => {
  const rows = 200_003;
  const dim = 3;
  // Row 0: every logit but one equal (the worst case for summing in float32); row 1: a few classes dominate;
  // row 2: logits of magnitude ~1e4 at temperature 0.5. Chosen so that every product is exact in
  // float32, so the reference below knows the very logits onnxruntime sums.
  const weight = new Float32Array(rows * dim);
  const bias = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    weight[i * dim] = i % 997 === 0 ? 30 : Math.sin(i);
    weight[i * dim + 1] = Math.round(Math.cos(i * 0.37) * 1e4);
    weight[i * dim + 2] = i === 77 ? 0.125 : 0;
    bias[i] = 0.25;
  }
  const hiddenRows = [
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0],
  ];
  const temperatures = [1, 1, 0.5];
  const session = await ShardSession.create(ClassRange.of(0, rows), { rows, dim, weight, bias }, { threads: 1 });
  sessions.push(session);
  const got = await session.run({
    rows: 3,
    hidden: Float32Array.from(hiddenRows.flat()),
    topK: 3,
    options: { ...defaultOptions(), temperatures: Float64Array.from(temperatures) },
    targetCounts: new Uint32Array(3),
    targetIds: new Uint32Array(0),
  });
  hiddenRows.forEach((h, r) => {
    const z = new Float64Array(rows);
    for (let i = 0; i < rows; i++)
      z[i] = Math.fround((h[0]! * weight[i * dim]! + h[1]! * weight[i * dim + 1]! + h[2]! * weight[i * dim + 2]! + bias[i]!) / temperatures[r]!);
    const logSum = got.max[r]! + Math.log(got.sumExp[r]!);
    expect(Math.abs(logSum - referenceLogSumExp(z))).toBeLessThan(2e-6);
    expect(Array.from(got.topIds.subarray(r * 3, r * 3 + 3))).toEqual(referenceTopK(z, 3));
  });
});
