/**
 * The pure parts of the full distribution: the refusals made from the model
 * alone (before any shard is called), the log-prob arithmetic (float64, one
 * rounding to float32), and the JSON size estimate.
 */
import { describe, expect, it } from "vitest";
import { checkDistribution, type DistributionLimits, logProbs } from "../../../services/gateway/distribution.js";
import { jsonDistributionBytes } from "../../../services/gateway/distribution-rest.js";
import { ShardmaxError } from "../../../shared/errors.js";

const model = { fingerprint: "sha256:f", vocabSize: 1000, dim: 4 };
const limits: DistributionLimits = { maxRows: 8, maxTopK: 10, maxTargetsPerRow: 10, maxResponseBytes: 1 << 20, maxDraws: 64, maxDistributionValues: 3000 };
const request = (rows: number, overrides: object = {}) => ({ rows, dim: 4, hidden: new Float32Array(rows * 4), temperature: 1, ...overrides });

function refusal(fn: () => void): ShardmaxError {
  try {
    fn();
  } catch (err) {
    return ShardmaxError.from(err);
  }
  throw new Error("not refused");
}

describe("checkDistribution", () => {
  it("takes rows × V up to --max-distribution-values, and refuses one row more naming the flag, the limit and the value", () => {
    expect(() => checkDistribution(request(3), model, limits)).not.toThrow();
    const error = refusal(() => checkDistribution(request(4), model, limits));
    expect(error.code).toBe("REQUEST_TOO_LARGE");
    expect(error.httpStatus).toBe(413);
    expect(error.message).toContain("--max-distribution-values 3000");
    expect(error.message).toContain("4000");
    expect(error.message).toContain("at most 3 rows");
  });

  it("refuses bad input naming the field", () => {
    expect(refusal(() => checkDistribution(request(0), model, limits)).message).toMatch(/^hidden: is empty/);
    expect(refusal(() => checkDistribution(request(9), model, { ...limits, maxDistributionValues: 1e9 })).code).toBe("RESOURCE_EXHAUSTED");
    expect(refusal(() => checkDistribution(request(1, { dim: 5 }), model, limits)).message).toMatch(/^hidden: rows have 5 numbers/);
    for (const temperature of [0, -1, Number.NaN, 1e-50, 1e50]) {
      expect(refusal(() => checkDistribution(request(1, { temperature }), model, limits)).message).toMatch(/^temperature/);
    }
  });

  it("refuses a non-finite hidden value before any shard is asked, naming its row and column (gRPC bodies are not schema-checked)", () => {
    const bad = request(2);
    bad.hidden[bad.dim + 1] = Number.NaN;
    expect(refusal(() => checkDistribution(bad, model, limits)).message).toMatch(/^hidden\[1\]\[1\]: is not a finite number/);
  });
});

describe("logProbs", () => {
  it("subtracts logZ in float64 and rounds once: not float32 arithmetic", () => {
    const logZ = 10000.001;
    const out = logProbs(Float32Array.of(10000, -1e30), logZ);
    expect(out[0]).toBe(Math.fround(10000 - logZ));
    // In float32, logZ would round to 10000.0009765625 first: an error of 2.3e-5 on a log-prob of −0.001.
    expect(out[0]).not.toBe(Math.fround(10000 - Math.fround(logZ)));
    expect(out[1]).toBe(Math.fround(-1e30 - logZ));
  });
});

it("estimates a JSON distribution at 25 bytes a log-prob, plus a frame per row", () => {
  expect(jsonDistributionBytes(2, 1000)).toBe(512 + 2 * (64 + 25_000));
  // A float32 printed as a double is at most 24 characters, e.g. this one:
  expect(String(Math.fround(-0.00012345678))).toHaveLength(22);
});
