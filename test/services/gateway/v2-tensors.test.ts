/**
 * The pure V2 parsers, without a server: binary16 decoding of every one of
 * the 65536 bit patterns against a decoder written here, JSON data against
 * the shape (flat, nested, ragged), little-endian bytes of each datatype,
 * the binary extension's split and claims, and the answer's tensors with
 * padding targets as NaN (bytes) and "NaN" (JSON).
 */
import { describe, expect, it } from "vitest";
import { attachBinary, encodeResponse, splitBody } from "../../../services/gateway/v2-binary.js";
import { queryFromV2, v2Outputs } from "../../../services/gateway/v2-infer.js";
import { halfToNumber, numbersOf, shape2 } from "../../../services/gateway/v2-tensors.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { fromHalfBits, le } from "../../helpers/v2-spec.js";

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ShardmaxError);
    return (err as ShardmaxError).message;
  }
  throw new Error("not refused");
};

describe("V2 tensors", () => {
  it("decodes every binary16 value exactly", () => {
    for (let bits = 0; bits < 0x10000; bits++)
      expect(
        Object.is(halfToNumber(bits), fromHalfBits(bits)) || (Number.isNaN(halfToNumber(bits)) && Number.isNaN(fromHalfBits(bits))),
        `0x${bits.toString(16)}`,
      ).toBe(true);
  });

  it("reads flat and nested JSON against the shape, and names the first value or level that does not fit", () => {
    const input = (data: unknown, shape = [2, 2]) => ({ name: "hidden", datatype: "FP32", shape, data });
    expect(Array.from(numbersOf(input([1, 2, 3, 4]), 4, false))).toEqual([1, 2, 3, 4]);
    expect(
      Array.from(
        numbersOf(
          input([
            [1, 2],
            [3, 4],
          ]),
          4,
          false,
        ),
      ),
    ).toEqual([1, 2, 3, 4]);
    expect(refusal(() => numbersOf(input([[1, 2], [3]]), 4, false))).toBe("hidden.data[1]: must be an array of 2 (shape [2, 2]), got 1 items");
    expect(
      refusal(() =>
        numbersOf(
          input([
            [1, 2],
            [3, [4]],
          ]),
          4,
          false,
        ),
      ),
    ).toBe("hidden.data[1][1]: must be a number, got object");
    expect(refusal(() => numbersOf(input([1, 2, 3]), 4, false))).toBe("hidden.data: has 3 values, shape [2, 2] needs 4");
    expect(refusal(() => numbersOf(input({ a: 1 }), 4, false))).toBe("hidden.data: must be an array");
    expect(refusal(() => numbersOf({ name: "targets", datatype: "INT64", shape: [1, 2], data: [1, 2.5] }, 2, true))).toBe(
      "targets.data[1]: must be an integer, got 2.5",
    );
    expect(refusal(() => numbersOf({ name: "hidden", datatype: "FP32", shape: [1, 2] }, 2, false))).toMatch(/^hidden\.data: is required/);
  });

  it("checks the shape before reading any value", () => {
    expect(shape2({ name: "h", datatype: "FP32", shape: [3, 4] })).toEqual([3, 4]);
    expect(refusal(() => shape2({ name: "h", datatype: "FP32", shape: [3] }))).toBe("h.shape: must have 2 dimensions [rows, columns], got [3]");
    expect(refusal(() => shape2({ name: "h", datatype: "FP32", shape: [-1, 4] }))).toBe("h.shape[0]: must be an integer ≥ 0, got -1");
    expect(refusal(() => shape2({ name: "h", datatype: "FP32", shape: [2 ** 30, 2 ** 30] }))).toBe("h.shape: [1073741824, 1073741824] has too many elements");
  });

  it("reads little-endian bytes of each datatype, and refuses a wrong byte count or an int64 past 2^53", () => {
    const raw = (datatype: string, bytes: Buffer) => ({ name: "x", datatype, shape: [1, 2], raw: bytes });
    expect(Array.from(numbersOf(raw("FP32", le.f32([1.5, -2])), 2, false))).toEqual([1.5, -2]);
    expect(Array.from(numbersOf(raw("FP64", le.f64([0.1, 1e300])), 2, false))).toEqual([0.1, 1e300]);
    expect(Array.from(numbersOf(raw("FP16", Buffer.from([0x00, 0x3c, 0x00, 0xc0])), 2, false))).toEqual([1, -2]);
    expect(Array.from(numbersOf(raw("INT64", le.i64([-1, 2 ** 53 - 1])), 2, true))).toEqual([-1, 2 ** 53 - 1]);
    expect(refusal(() => numbersOf(raw("FP32", Buffer.alloc(7)), 2, false))).toBe("x: has 7 bytes, shape × FP32 needs 8");
    const big = Buffer.alloc(16);
    big.writeBigInt64LE(2n ** 60n, 8);
    expect(refusal(() => numbersOf(raw("INT64", big), 2, true))).toBe("x[1]: 1152921504606846976 is beyond 2^53");
  });
});

describe("V2 binary extension", () => {
  it("splits a body at the header length, and gives each binary input its bytes in order", () => {
    const header = {
      inputs: [
        { name: "hidden", datatype: "FP32", shape: [1, 2], parameters: { binary_data_size: 8 } },
        { name: "targets", datatype: "INT64", shape: [1, 1], data: [3] },
      ],
    };
    const json = Buffer.from(JSON.stringify(header));
    const { header: parsed, tail } = splitBody(Buffer.concat([json, le.f32([1, 2])]), String(json.length));
    const request = attachBinary(parsed as never, tail);
    expect(Array.from(request.inputs[0]!.raw!)).toEqual(Array.from(le.f32([1, 2])));
    expect(request.inputs[1]!.raw).toBeUndefined();
    expect(refusal(() => splitBody(json, "1e3"))).toMatch(/^Inference-Header-Content-Length: must be an integer/);
    expect(refusal(() => splitBody(json, "0"))).toBe("body: the JSON header is empty");
    expect(refusal(() => attachBinary({ inputs: [{ ...header.inputs[0]!, parameters: { binary_data_size: -1 } }] }, Buffer.alloc(0)))).toMatch(
      /binary_data_size: must be an integer ≥ 0, got -1/,
    );
    expect(refusal(() => attachBinary({ inputs: [{ ...header.inputs[0]!, data: [1, 2] }] }, Buffer.alloc(8)))).toBe(
      "hidden.data: must be left out when binary_data_size is given",
    );
  });

  it('answers padding targets as NaN in bytes and as "NaN" in JSON, binary outputs after the JSON header', () => {
    const { query, plan } = queryFromV2({
      inputs: [
        { name: "hidden", datatype: "FP32", shape: [1, 1], data: [1] },
        { name: "targets", datatype: "INT64", shape: [1, 3], data: [2, -1, 4] },
      ],
      outputs: [{ name: "target_logprobs", parameters: { binary_data: true } }, { name: "logsumexp" }],
    });
    expect(query.targets).toEqual([[2, 4]]);
    const answer = {
      model: { fingerprint: "f", vocabSize: 5, dim: 1 },
      results: [
        {
          logZ: 1.5,
          top: [],
          targets: [
            { id: 2, logit: 0, logprob: -1 },
            { id: 4, logit: 0, logprob: -2 },
          ],
        },
      ],
    };
    const tensors = v2Outputs(answer, plan);
    const encoded = encodeResponse({ model_name: "m" }, tensors);
    if (!("body" in encoded)) throw new Error("expected a binary response");
    const header = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString());
    expect(header.outputs).toEqual([
      { name: "target_logprobs", datatype: "FP64", shape: [1, 3], parameters: { binary_data_size: 24 } },
      { name: "logsumexp", datatype: "FP64", shape: [1], data: [1.5] },
    ]);
    expect(le.readF64(encoded.body.subarray(encoded.headerLength))).toEqual([-1, NaN, -2]);
    const json = encodeResponse({}, v2Outputs(answer, { ...plan, outputs: plan.outputs.map((o) => ({ ...o, binary: false })) }));
    expect("json" in json && (json.json as { outputs: { data: unknown[] }[] }).outputs[0]!.data).toEqual([-1, "NaN", -2]);
  });
});
