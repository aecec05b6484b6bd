/**
 * The Partial is declared once: every column of PARTIAL_COLUMNS is a `bytes`
 * field of PartialResponse and every per-row option of ROW_OPTIONS one of
 * PartialRequest, under the same name, and the wire has no per-row bytes
 * field the declarations do not know. A new statistic is its declaration, its
 * proto field (checked here), its merge rule and the graph that computes it.
 */
import { join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { decodePartialColumns, encodePartialColumns } from "../../shared/grpc/partial-codec.js";
import { COLUMN_NAMES, partialFrom } from "../../shared/math/partial.js";
import { joinPartials, slicePartial } from "../../shared/math/partial-slice.js";
import { defaultOptions, OPTION_NAMES } from "../../shared/math/row-options.js";

const root = protobuf.loadSync(join(import.meta.dirname, "..", "..", "proto", "shardmax", "v1", "shard.proto"));
const bytesFields = (type: string) =>
  Object.values(root.lookupType(`shardmax.v1.${type}`).fields)
    .filter((f) => f.type === "bytes")
    .map((f) => f.name)
    .sort();

describe("the declarations and the .proto", () => {
  it("PartialResponse carries exactly the declared columns", () => {
    expect(bytesFields("PartialResponse")).toEqual([...COLUMN_NAMES].sort());
  });

  it("PartialRequest carries the declared row options besides hidden rows and target ids", () => {
    expect(bytesFields("PartialRequest")).toEqual([...OPTION_NAMES, "hidden", "targetIds"].sort());
  });
});

describe("driven by the declarations", () => {
  const p = partialFrom({
    rows: 3,
    k: 2,
    max: Float64Array.of(1, 2, 3),
    sumExp: Float64Array.of(1, 1, 1),
    topIds: Uint32Array.of(10, 11, 20, 21, 30, 31),
    topLogits: Float32Array.of(1, 0.5, 2, 1.5, 3, 2.5),
    targetCounts: Uint32Array.of(1, 0, 2),
    targetLogits: Float32Array.of(0.1, 0.3, 0.4),
    drawCounts: Uint32Array.of(2, 0, 1),
    drawRecords: Uint32Array.of(1, 2, 1),
    recordIds: Uint32Array.of(10, 20, 21, 31),
    recordLogits: Float32Array.of(1, 2, 1.5, 2.5),
    recordKeys: Float64Array.of(5, 6, 7, 8),
  });

  it("a row slice and the join of the slices give the partial back, every column", () => {
    const parts = [slicePartial(p, { row: 0, rows: 1, topK: 2 }), slicePartial(p, { row: 1, rows: 2, topK: 2 })];
    expect(parts[1]!.recordIds).toEqual(Uint32Array.of(31));
    expect(parts[0]!.recordIds).toEqual(Uint32Array.of(10, 20, 21));
    expect(joinPartials(parts)).toEqual(p);
  });

  it("a smaller top-k is a per-row prefix", () => {
    const cut = slicePartial(p, { row: 1, rows: 2, topK: 1 });
    expect([...cut.topIds]).toEqual([20, 30]);
  });

  it("encodes and decodes every column, and refuses one that does not match the request", () => {
    const columns = encodePartialColumns(p);
    const message = { rows: 3, k: 2, ...columns };
    const options = { ...defaultOptions(), drawCounts: Uint32Array.of(2, 0, 1) };
    expect(decodePartialColumns(message, { rows: 3, k: 2, targetCounts: p.targetCounts, options })).toEqual(p);
    expect(() => decodePartialColumns(message, { rows: 3, k: 2, targetCounts: p.targetCounts, options: defaultOptions() })).toThrow(/draws of row 0/);
    const short = { ...message, recordKeys: columns.recordKeys!.subarray(0, 8) };
    expect(() => decodePartialColumns(short, { rows: 3, k: 2, targetCounts: p.targetCounts, options })).toThrow(/record_keys/);
  });
});
