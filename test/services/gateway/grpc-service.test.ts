/**
 * The gRPC `shardmax.v1.Softmax` adapter in-process: a SoftmaxServer on port 0
 * over a live core (in-process shards, two uneven ranges), driven by the SDK
 * and by a raw client: exact answers, sampling, refusals as gRPC statuses,
 * the caller's deadline, and the health service following readiness.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardmaxClient } from "../../../sdk/index.js";
import { SoftmaxServer } from "../../../services/gateway/grpc-service.js";
import { shardmaxProto } from "../../../shared/grpc/proto.js";
import { silentLogger } from "../../../shared/log.js";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { gemmTolerance, randomHead, randomHidden, referenceLogits, referenceSoftmax } from "../../helpers/reference-softmax.js";

const V = 257;
const D = 12;
const head = randomHead(51, V, D, 1, 1);
const hidden = randomHidden(53, 3, D).map((row) => Array.from(row, Math.fround));

let shards: InProcessShards;
let gateway: TestGateway;
let server: SoftmaxServer;
let client: ShardmaxClient;
let address: string;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 100],
    [100, V],
  ]);
  gateway = await startGateway(shards.addresses);
  server = new SoftmaxServer({ core: gateway.core, maxReceiveBytes: 1 << 20, maxSendBytes: 1 << 20, log: silentLogger });
  address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  client = new ShardmaxClient(address);
});

afterAll(async () => {
  client.close();
  await server.shutdown(100);
  await gateway.stop();
  await shards.stop();
});

describe("Softmax over the core", () => {
  it("Query answers exactly", async () => {
    const { model, results } = await client.query({ hidden, topK: 4, targets: hidden.map(() => [0, 99, 100, V - 1]) });
    expect(model).toEqual(gateway.core.requireReady());
    const refs = referenceSoftmax(head, hidden, 4);
    results.forEach((row, r) => {
      const tol = gemmTolerance(refs[r]!, D);
      expect(Math.abs(row.logZ - refs[r]!.logZ)).toBeLessThanOrEqual(tol);
      expect(row.top.map((t) => t.id)).toEqual(refs[r]!.topIds);
      row.targets.forEach((t) => expect(Math.abs(t.logprob - refs[r]!.logProbs[t.id]!)).toBeLessThanOrEqual(tol));
    });
  });

  it("Query samples: a top-k 1 draw is the argmax, with the seed kept", async () => {
    const { results } = await client.query({ hidden, topK: 0, sample: { n: 3, seed: 9, topK: 1 } });
    results.forEach((row, r) => {
      const logits = referenceLogits(head, hidden[r]!);
      const argmax = logits.indexOf(Math.max(...logits));
      expect(row.seed).toBe(9 + r);
      expect(row.samples!.map((s) => s.id)).toEqual([argmax, argmax, argmax]);
    });
  });

  it("Info is the core's model view", async () => {
    expect(await client.info()).toMatchObject({
      ready: true,
      model: gateway.core.requireReady(),
      ranges: [
        { start: 0, end: 100 },
        { start: 100, end: V },
      ],
    });
  });

  it("refusals are INVALID_ARGUMENT naming the field", async () => {
    const raw = new (shardmaxProto().Softmax)(address, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.query({ rows: 2, dim: D, hidden: Buffer.alloc(4 * D) }, { deadline: new Date(Date.now() + 5000) }, (e) => resolve(e)),
    );
    raw.close();
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/^hidden: has 12 floats, rows×dim = 24/);
    await expect(client.query({ hidden, topK: 1000 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/^topK: /) });
  });

  it("a caller's deadline shorter than the gateway's bounds the query", async () => {
    await expect(client.query({ hidden }, { deadlineMs: 0 })).rejects.toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect((await client.query({ hidden })).results).toHaveLength(3);
  });

  it("the health service says SERVING for the Softmax service once the core is ready", async () => {
    const health = grpc.makeGenericClientConstructor(
      {
        check: {
          path: "/grpc.health.v1.Health/Check",
          requestStream: false,
          responseStream: false,
          requestSerialize: (x: Buffer) => x,
          requestDeserialize: (x: Buffer) => x,
          responseSerialize: (x: Buffer) => x,
          responseDeserialize: (x: Buffer) => x,
        },
      },
      "Health",
    );
    const stub = new health(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      check: (request: Buffer, done: (err: Error | null, res: Buffer) => void) => void;
    };
    // HealthCheckRequest { service = "shardmax.v1.Softmax" } by hand: field 1, length-delimited.
    const name = Buffer.from("shardmax.v1.Softmax");
    const reply = await new Promise<Buffer>((resolve, reject) =>
      stub.check(Buffer.concat([Buffer.from([0x0a, name.length]), name]), (err: Error | null, res: Buffer) => (err ? reject(err) : resolve(res))),
    );
    stub.close();
    expect([...reply]).toEqual([0x08, 1]); // status = SERVING
  });
});
