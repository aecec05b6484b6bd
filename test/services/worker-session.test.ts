/**
 * The session in its inference worker thread: the slice moves to the worker
 * without a copy (the caller's arrays are detached), every batch comes back
 * exactly as the same session answers in this thread, a failing batch is an
 * error of ours with its code, and a closed session refuses further runs.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type PartialBatch, ShardSession } from "../../services/shard/session.js";
import { WorkerSession } from "../../services/shard/worker-session.js";
import { ShardmaxError } from "../../shared/errors.js";
import { defaultOptions } from "../../shared/math/row-options.js";
import { ClassRange } from "../../shared/ranges.js";
import { randomHead } from "../helpers/reference-softmax.js";

const V = 400;
const D = 16;
const head = randomHead(5, V, D, 0.5, 1);
const range = ClassRange.of(50, 350);
const sliceOf = () => ({
  rows: range.size,
  dim: D,
  weight: head.weight.slice(range.start * D, range.end * D) as Float32Array,
  bias: head.bias.slice(range.start, range.end) as Float32Array,
});
let inThread: ShardSession;
let inWorker: WorkerSession;
let moved: ReturnType<typeof sliceOf>;

beforeAll(async () => {
  inThread = await ShardSession.create(range, sliceOf(), { threads: 1 });
  moved = sliceOf();
  inWorker = await WorkerSession.create(range, moved, { threads: 1 });
});

afterAll(async () => {
  await inThread.close();
  await inWorker.close();
});

function batch(rows: number, temperature: number, targets: number[][]): PartialBatch {
  return {
    rows,
    hidden: Float32Array.from({ length: rows * D }, (_, i) => Math.cos(i * 0.37)),
    topK: 7,
    options: { ...defaultOptions(), temperatures: new Float64Array(rows).fill(temperature) },
    targetCounts: Uint32Array.from(targets.map((t) => t.length)),
    targetIds: Uint32Array.from(targets.flat()),
  };
}

it("moves the slice to the worker without copying it", () => {
  expect(moved.weight.byteLength).toBe(0);
  expect(moved.bias.byteLength).toBe(0);
});

it("answers exactly as the session in this thread does", async () => {
  const targets = [[50, 349], [], [200]];
  const expected = await inThread.run(batch(3, 0.7, targets));
  const sent = batch(3, 0.7, targets);
  const got = await inWorker.run(sent);
  expect(sent.hidden.byteLength).toBe(0); // the batch went over by transfer too
  expect(got).toEqual(expected);
});

it("passes errors back with their code", async () => {
  const error = await inWorker.run(batch(1, 1e-40, [[]])).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ShardmaxError);
  expect((error as ShardmaxError).code).toBe("INVALID_ARGUMENT");
  // …and keeps serving.
  await expect(inWorker.run(batch(1, 1, [[]]))).resolves.toMatchObject({ rows: 1, k: 7 });
});

it("refuses runs once closed", async () => {
  const other = await WorkerSession.create(range, sliceOf(), { threads: 1 });
  await other.close();
  await expect(other.run(batch(1, 1, [[]]))).rejects.toMatchObject({ code: "UNAVAILABLE" });
});
