/**
 * Shard.Logits on a real gRPC server over a real onnxruntime session (several
 * blocks, the last one padded): every chunk in row-major order matches the
 * float64 logits; the Partial's checks refuse bad calls naming the field; a
 * caller that stops reading, or cancels, stops the shard computing further
 * row groups.
 */
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type LogitsCall, type LogitsChunkMessage, ShardClient } from "../../../services/gateway/shard-client.js";
import { BUDGET_BYTES, CHUNK_CLASSES, groupRows } from "../../../services/shard/logits-stream.js";
import { ShardServer } from "../../../services/shard/server.js";
import { type LogitsBatch, ShardSession } from "../../../services/shard/session.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/log.js";
import { ClassRange } from "../../../shared/ranges.js";
import { randomHead, randomHidden, referenceLogits } from "../../helpers/reference-softmax.js";

const V = 40_000;
const D = 4;
const RANGE = ClassRange.of(3_000, 37_001); // 34 001 classes: three chunks per row
const head = randomHead(3, V, D, 1, 1);
const FINGERPRINT = "sha256:test";

let session: ShardSession;
let server: ShardServer;
let client: ShardClient;
let groupsComputed = 0;

beforeAll(async () => {
  const weight = Float32Array.from(head.weight.subarray(RANGE.start * D, RANGE.end * D));
  const bias = Float32Array.from(head.bias.subarray(RANGE.start, RANGE.end));
  session = await ShardSession.create(RANGE, { rows: RANGE.size, dim: D, weight, bias }, { threads: 1, blockRows: 10_000 });
  server = new ShardServer({ maxRows: 4096, maxTopK: 10, maxMessageBytes: 64 << 20, log: silentLogger });
  const address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  const logits = (batch: LogitsBatch) => {
    groupsComputed++;
    return session.logits(batch);
  };
  server.setReady({
    range: RANGE,
    vocabSize: V,
    dim: D,
    fingerprint: FINGERPRINT,
    dtype: "F32",
    hasBias: true,
    source: "test",
    run: () => Promise.reject(new Error("unused")),
    logits,
  });
  client = new ShardClient(address, 64 << 20);
});

afterAll(async () => {
  client.close();
  await server.shutdown(1000);
  await session.close();
});

function call(rows: number[][], overrides: Partial<LogitsCall> = {}): LogitsCall {
  return { rows: rows.length, dim: D, hidden: Float32Array.from(rows.flat()), temperature: 1, fingerprint: FINGERPRINT, ...overrides };
}

const deadline = () => new Date(Date.now() + 10_000);

async function readAll(stream: grpc.ClientReadableStream<LogitsChunkMessage>): Promise<LogitsChunkMessage[]> {
  const chunks: LogitsChunkMessage[] = [];
  for await (const chunk of stream) chunks.push(chunk as LogitsChunkMessage);
  return chunks;
}

it("streams every owned class of every row, row-major, matching float64", async () => {
  const hidden = randomHidden(4, 3, D).map((row) => Array.from(row, Math.fround));
  const chunks = await readAll(client.logits(call(hidden, { temperature: 0.5 }), deadline()));
  const perRow = Math.ceil(RANGE.size / CHUNK_CLASSES);
  expect(chunks.map((c) => [c.row, c.start])).toEqual(
    hidden.flatMap((_, row) => Array.from({ length: perRow }, (_, j) => [row, RANGE.start + j * CHUNK_CLASSES])),
  );
  hidden.forEach((h, row) => {
    const ref = referenceLogits(head, h, Math.fround(0.5));
    const got = Buffer.concat(chunks.filter((c) => c.row === row).map((c) => c.logits));
    const z = new Float32Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.length));
    expect(z.length).toBe(RANGE.size);
    let worst = 0;
    for (let i = 0; i < RANGE.size; i++) worst = Math.max(worst, Math.abs(z[i]! - ref[RANGE.start + i]!));
    expect(worst).toBeLessThan(1e-4);
  });
});

it("refuses what a Partial refuses, naming the field", async () => {
  const row = [[0.1, 0.2, 0.3, 0.4]];
  const refusal = async (c: LogitsCall) => ShardmaxError.from(await readAll(client.logits(c, deadline())).catch((e: unknown) => e));
  expect(await refusal(call(row, { fingerprint: "sha256:other" }))).toMatchObject({ code: "MODEL_MISMATCH" });
  expect((await refusal(call(row, { dim: 3, hidden: new Float32Array(3) }))).message).toMatch(/^dim/);
  expect((await refusal(call([[0.1, Number.NaN, 0, 0]]))).message).toMatch(/^hidden: row 0/);
  expect((await refusal(call(Array.from({ length: 4097 }, () => row[0]!)))).code).toBe("RESOURCE_EXHAUSTED");
  expect((await refusal(call(row, { temperature: -1 }))).message).toMatch(/^temperature/);
});

it("a caller that stops reading, then cancels, stops the shard computing further row groups", async () => {
  const rows = 10 * groupRows(RANGE.size, 1 << 20);
  const hidden = randomHidden(5, rows, D).map((r) => Array.from(r, Math.fround));
  groupsComputed = 0;
  const stream = client.logits(call(hidden), deadline());
  const first = await new Promise<LogitsChunkMessage>((resolve) => stream.once("data", resolve));
  stream.pause();
  expect(first.row).toBe(0);
  // A group is far more than the flow-control windows hold: the shard must be waiting inside its first (or second) group.
  await new Promise((r) => setTimeout(r, 500));
  expect(groupsComputed).toBeLessThanOrEqual(2);
  stream.on("error", () => {});
  stream.cancel();
  const before = groupsComputed;
  await new Promise((r) => setTimeout(r, 300));
  expect(groupsComputed).toBeLessThanOrEqual(before + 1);
});

it("streams whose callers do not read hold at most the shard's budget of logits between them", async () => {
  const rows = groupRows(RANGE.size, 1 << 20);
  // Groups of this size fit BUDGET_BYTES four at a time.
  expect(Math.floor(BUDGET_BYTES / (rows * RANGE.size * 4))).toBe(4);
  const hidden = randomHidden(6, rows, D).map((r) => Array.from(r, Math.fround));
  groupsComputed = 0;
  // Six callers that never read: each group stays held until its chunks are written.
  const streams = Array.from({ length: 6 }, () => client.logits(call(hidden), deadline()));
  streams.forEach((s) => s.on("error", () => {}));
  await waitFor(() => groupsComputed >= 4, "four groups");
  await new Promise((r) => setTimeout(r, 300));
  expect(groupsComputed).toBe(4);
  streams[0]!.cancel();
  await waitFor(() => groupsComputed >= 5, "the fifth group, once the first caller went away");
  streams.forEach((s) => s.cancel());
});

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
