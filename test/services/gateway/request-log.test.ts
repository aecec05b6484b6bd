/**
 * Request ids and the slow-request line on a real gateway over in-process
 * shards: the caller's x-request-id (REST header, gRPC metadata) comes back
 * and names the request's log line; a missing or unsafe one is replaced by a
 * new UUID; with --slow-query-ms 0 every inference request is logged, and
 * with a large one none is.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardmaxProto } from "../../../shared/grpc/proto.js";
import { createLogger } from "../../../shared/log.js";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { randomHead } from "../../helpers/reference-softmax.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const head = randomHead(7, 50, 4);
const lines: string[] = [];
let shards: InProcessShards;
let slow: TestGateway;
let quiet: TestGateway;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 20],
    [20, 50],
  ]);
  slow = await startGateway(
    shards.addresses,
    { slowQueryMs: 0 },
    createLogger("gateway", (l) => lines.push(l), { format: "json" }),
  );
  quiet = await startGateway(
    shards.addresses,
    { slowQueryMs: 60_000 },
    createLogger("quiet", (l) => lines.push(l), { format: "json" }),
  );
});

afterAll(async () => {
  await slow?.stop();
  await quiet?.stop();
  await shards?.stop();
});

const events = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === "slow request");
const post = (url: string, id?: string) =>
  fetch(`${url}/v1/softmax`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(id ? { "x-request-id": id } : {}) },
    body: JSON.stringify({ hidden: [[1, 2, 3, 4]] }),
  });

describe("request ids and slow requests", () => {
  it("REST: the caller's id comes back and names the line; an unsafe or missing one is replaced", async () => {
    const mine = await post(slow.url, "client-42.a:b");
    expect(mine.headers.get("x-request-id")).toBe("client-42.a:b");
    const unsafe = await post(slow.url, "two words");
    expect(unsafe.headers.get("x-request-id")).toMatch(UUID);
    const none = await post(slow.url);
    expect(none.headers.get("x-request-id")).toMatch(UUID);
    const bad = await fetch(`${slow.url}/v1/softmax`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "bad-1" }, body: "{}" });
    expect(bad.headers.get("x-request-id")).toBe("bad-1");
    expect(events().find((e) => e.requestId === "client-42.a:b")).toMatchObject({ level: "warn", role: "gateway/requests", protocol: "rest_v1", code: "OK" });
    expect(events().find((e) => e.requestId === "bad-1")).toMatchObject({ protocol: "rest_v1", code: "INVALID_ARGUMENT" });
    expect(events().some((e) => e.requestId === none.headers.get("x-request-id"))).toBe(true);
  });

  it("gRPC: the id travels in metadata both ways and names the line", async () => {
    const Softmax = shardmaxProto().Softmax;
    const client = new Softmax(slow.grpcAddress, grpc.credentials.createInsecure());
    const sent = new grpc.Metadata();
    sent.set("x-request-id", "grpc-7");
    const hidden = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const echoed = await new Promise<unknown>((resolve, reject) => {
      const call = client.query({ rows: 1, dim: 4, hidden, targets: [] }, sent, (err) => err && reject(err));
      call.on("metadata", (m: grpc.Metadata) => resolve(m.get("x-request-id")[0]));
    });
    client.close();
    expect(echoed).toBe("grpc-7");
    await expect.poll(() => events().find((e) => e.requestId === "grpc-7")).toMatchObject({ protocol: "grpc_softmax", code: "OK" });
  });

  it("under --slow-query-ms, requests are not logged", async () => {
    await post(quiet.url, "fast-1");
    expect(lines.some((l) => l.includes("fast-1"))).toBe(false);
  });
});
