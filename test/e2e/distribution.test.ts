/**
 * The full distribution end to end: real shard processes over a safetensors
 * file written here, a real gateway; JSON, octet-stream and gRPC (SDK)
 * answers checked class by class against a float64 softmax computed here,
 * for 1, 2 and 3 uneven shards (several onnxruntime blocks each), with
 * temperature and logits in the thousands.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectDistribution, ShardmaxClient, type ShardmaxError } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard } from "../helpers/processes.js";
import { gemmTolerance, type ReferenceRow, randomHead, randomHidden, referenceSoftmax } from "../helpers/reference-softmax.js";

const V = 1009; // prime: no shard count divides it
const D = 32;
const head = randomHead(17, V, D, 1, 1);
head.bias[17] = -1e30; // a class that must never carry mass (a checkpoint refuses a true −∞)
const gauss = randomHidden(23, 4, D);
gauss[2] = gauss[2]!.map((x) => x * 300); // |z| in the thousands: a naive exp overflows
const hidden = gauss.map((row) => Array.from(row, Math.fround));

const layouts: Record<string, string[][]> = {
  one: [["--shard", "0/1"]],
  twoUneven: ["0:700", "700:1009"].map((r) => ["--range", r]),
  threeUneven: ["0:100", "100:613", "613:1009"].map((r) => ["--range", r]),
};

const shards: ShardProcess[] = [];
const gateways: Record<string, TestGateway> = {};

beforeAll(async () => {
  const file = await writeHead(join(await tempDir(), "head.safetensors"), head);
  for (const [name, layout] of Object.entries(layouts)) {
    // 256-row blocks: every shard but the smallest serves its range as several onnxruntime sessions.
    const args = (extra: string[]) => ["--weights", file, "--listen", "127.0.0.1:0", "--threads", "1", "--block-rows", "256", ...extra];
    const started = await Promise.all(layout.map((extra) => startShard(args(extra))));
    shards.push(...started);
    gateways[name] = await startGateway(started.map((s) => s.address));
  }
});

afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
});

const tolerance = (ref: ReferenceRow) => gemmTolerance(ref, D);

/** Every class of every row against float64; probabilities sum to 1 within 1e-5. */
function expectDistribution(rows: ArrayLike<number | null>[], logZ: number[], temperature: number, asked: number[][] = hidden): void {
  const refs = referenceSoftmax(head, asked, 0, temperature);
  expect(rows.length).toBe(asked.length);
  rows.forEach((row, r) => {
    const ref = refs[r]!;
    const tol = tolerance(ref);
    expect(row.length).toBe(V);
    expect(Math.abs(logZ[r]! - ref.logZ)).toBeLessThanOrEqual(tol);
    let sum = 0;
    let worst = 0;
    for (let i = 0; i < V; i++) {
      const lp = row[i]!;
      expect(typeof lp).toBe("number");
      sum += Math.exp(lp as number);
      if (i === 17) expect(lp as number).toBeLessThan(-1e29);
      else worst = Math.max(worst, Math.abs((lp as number) - ref.logProbs[i]!));
    }
    expect(worst).toBeLessThanOrEqual(tol);
    expect(Math.abs(sum - 1)).toBeLessThanOrEqual(1e-5);
  });
}

async function octetStream(gateway: TestGateway, body: object): Promise<Response> {
  return fetch(`${gateway.url}/v1/distribution`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/octet-stream" },
    body: JSON.stringify(body),
  });
}

describe.each(Object.keys(layouts))("layout %s", (name) => {
  it("JSON matches the float64 softmax, every class, at T = 1 and 0.5", async () => {
    for (const temperature of [1, 0.5]) {
      const { status, body } = await gateways[name]!.post("/v1/distribution", { hidden, temperature });
      expect(status).toBe(200);
      expect(body.model).toMatchObject({ vocabSize: V, dim: D });
      expectDistribution(
        body.results.map((r: any) => r.logprobs),
        body.results.map((r: any) => r.logZ),
        temperature,
      );
    }
  });

  it("octet-stream is rows × V float32 LE, announced in the headers, matching float64 at T = 2", async () => {
    const res = await octetStream(gateways[name]!, { hidden, temperature: 2 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("x-shardmax-rows")).toBe(String(hidden.length));
    expect(res.headers.get("x-shardmax-vocab-size")).toBe(String(V));
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBe(hidden.length * V * 4);
    expect(res.headers.get("content-length")).toBe(String(bytes.length));
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const rows = hidden.map((_, r) => all.subarray(r * V, (r + 1) * V));
    // logZ is not in the octet stream: log-sum-exp of a row's log-probs is 0, so each row's logZ is the reference's own.
    expectDistribution(
      rows,
      referenceSoftmax(head, hidden, 0, 2).map((ref) => ref.logZ),
      2,
    );
  });

  it("the SDK streams the same distribution over gRPC", async () => {
    const client = new ShardmaxClient(gateways[name]!.grpcAddress);
    try {
      const { rows, logZ } = await client.distributionRows({ hidden: Float32Array.from(hidden.flat()), dim: D, temperature: 0.7 });
      expectDistribution(rows, logZ, 0.7);
      const json = (await gateways[name]!.post("/v1/distribution", { hidden, temperature: 0.7 })).body;
      rows.forEach((row, r) => expect(Array.from(row)).toEqual(json.results[r].logprobs));
    } finally {
      client.close();
    }
  });
});

it("does not depend on the shard layout", async () => {
  const answers = await Promise.all(Object.values(gateways).map((g) => g.post("/v1/distribution", { hidden })));
  const [first, ...rest] = answers.map((a) => a.body.results);
  for (const other of rest) {
    other.forEach((row: any, r: number) => {
      for (let i = 0; i < V; i++)
        if (i !== 17) expect(Math.abs(row.logprobs[i] - first[r].logprobs[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(first[r].logprobs[i])));
    });
  }
});

it("the SDK's chunks come in row-major order and tile each row", async () => {
  const client = new ShardmaxClient(gateways.threeUneven!.grpcAddress);
  try {
    const seen: [number, number, number][] = [];
    for await (const chunk of client.distribution({ hidden: hidden.slice(0, 2) })) seen.push([chunk.row, chunk.start, chunk.logprobs.length]);
    expect(seen).toEqual(
      [0, 1].flatMap((row) => [
        [row, 0, 100],
        [row, 100, 513],
        [row, 613, 396],
      ]),
    );
  } finally {
    client.close();
  }
});

it("gRPC chunks larger than the door's message limit (--max-response-bytes) go out in pieces that still tile each row", async () => {
  const tight = await startGateway(
    shards.slice(1, 3).map((s) => s.address),
    { limits: { maxRows: 256, maxTopK: 1000, maxTargetsPerRow: 1000, maxResponseBytes: 2048, maxDraws: 64 } },
  );
  const client = new ShardmaxClient(tight.grpcAddress);
  try {
    const lengths: number[] = [];
    const chunks = client.distribution({ hidden: hidden.slice(0, 2) });
    const { rows, logZ } = await collectDistribution(
      (async function* () {
        for await (const chunk of chunks) {
          lengths.push(chunk.logprobs.length);
          yield chunk;
        }
      })(),
    );
    expect(Math.max(...lengths)).toBeLessThanOrEqual((2048 - 64) / 4);
    expectDistribution(rows, logZ, 1, hidden.slice(0, 2));
    const json = (await gateways.twoUneven!.post("/v1/distribution", { hidden: hidden.slice(0, 2) })).body;
    rows.forEach((row, r) => expect(Array.from(row)).toEqual(json.results[r].logprobs));
  } finally {
    client.close();
    await tight.stop();
  }
});

describe("refusals, before any shard is asked", () => {
  let small: TestGateway;
  beforeAll(async () => {
    small = await startGateway(
      shards.slice(1, 3).map((s) => s.address),
      { maxDistributionValues: 2 * V, limits: { maxRows: 256, maxTopK: 1000, maxTargetsPerRow: 1000, maxResponseBytes: 40_000, maxDraws: 64 } },
    );
  });
  afterAll(() => small.stop());

  it("rows × V over --max-distribution-values: 413 naming the flag, the limit and the value; gRPC RESOURCE_EXHAUSTED", async () => {
    const attempts = small.stats.attempts;
    const res = await octetStream(small, { hidden: hidden.slice(0, 3) });
    expect(res.status).toBe(413);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("REQUEST_TOO_LARGE");
    expect(body.error.message).toContain("--max-distribution-values 2018");
    expect(body.error.message).toContain(`${3 * V}`);
    const client = new ShardmaxClient(small.grpcAddress);
    try {
      const error = (await client.distributionRows({ hidden: hidden.slice(0, 3) }).catch((e: unknown) => e)) as ShardmaxError;
      expect(error.code).toBe("REQUEST_TOO_LARGE");
      expect(error.message).toContain("--max-distribution-values");
    } finally {
      client.close();
    }
    expect(small.stats.attempts).toBe(attempts);
    expect(small.distributionStats.streamed).toBe(0);
  });

  it("JSON over --max-response-bytes is refused naming it, while octet-stream of the same rows is served", async () => {
    const { status, body } = await small.post("/v1/distribution", { hidden: hidden.slice(0, 2) });
    expect(status).toBe(413);
    expect(body.error.message).toContain("--max-response-bytes 40000");
    expect(small.stats.attempts).toBe(0);
    const res = await octetStream(small, { hidden: hidden.slice(0, 2) });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(2 * V * 4);
  });

  it("bad input is refused naming the field", async () => {
    const cases: [object, string][] = [
      [{ hidden: [[1, 2, 3]] }, "hidden"],
      [{ hidden: [hidden[0], [1]] }, "hidden[1]"],
      [{ hidden: [hidden[0]], temperature: 0 }, "temperature"],
      [{ hidden: [hidden[0]], topK: 3 }, "topK"],
      [{ hidden: [] }, "hidden"],
    ];
    for (const [body, field] of cases) {
      const res = await small.post("/v1/distribution", body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
    const client = new ShardmaxClient(small.grpcAddress);
    try {
      const error = (await client.distributionRows({ hidden: [hidden[0]!], temperature: -1 }).catch((e: unknown) => e)) as ShardmaxError;
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toMatch(/^temperature/);
    } finally {
      client.close();
    }
  });
});
