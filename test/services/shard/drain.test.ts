/**
 * A shard's graceful stop, on a real gRPC server and client: health turns
 * NOT_SERVING and the server stops taking calls, a call already running
 * finishes and is answered, and only then does shutdown resolve; past the
 * grace time the server closes anyway. The loaded shard is a stand-in whose
 * `run` the test releases, so "in flight" is certain, not a race.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ShardClient } from "../../../services/gateway/shard-client.js";
import { LIVENESS_SERVICE, ShardServer } from "../../../services/shard/server.js";
import { ShardmaxError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/log.js";
import type { BatchPartial } from "../../../shared/math/partial.js";
import { partialFrom } from "../../../shared/math/partial.js";
import { defaultOptions } from "../../../shared/math/row-options.js";
import { ClassRange } from "../../../shared/ranges.js";
import { closeHealthClients, grpcHealth } from "../../helpers/k8s-pods.js";

const partial: BatchPartial = partialFrom({ rows: 1, k: 0, max: Float64Array.of(0), sumExp: Float64Array.of(1) });
const call = {
  rows: 1,
  dim: 2,
  hidden: new Float32Array(2),
  topK: 0,
  options: defaultOptions(),
  targetCounts: new Uint32Array(1),
  targetIds: new Uint32Array(0),
  fingerprint: "sha256:f",
};
const clients: ShardClient[] = [];
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
  closeHealthClients();
});

async function shardWithGate() {
  const server = new ShardServer({ maxRows: 8, maxTopK: 10, maxMessageBytes: 1 << 20, log: silentLogger });
  const address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  let release = () => {};
  let started = () => {};
  const running = new Promise<void>((resolve) => (started = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  expect(await grpcHealth(address, "")).toBe("NOT_SERVING"); // listening, slice not loaded
  expect(await grpcHealth(address, LIVENESS_SERVICE)).toBe("SERVING");
  server.setReady({
    range: ClassRange.of(0, 4),
    vocabSize: 4,
    dim: 2,
    fingerprint: "sha256:f",
    dtype: "F32",
    hasBias: false,
    source: "test",
    run: async () => {
      started();
      await gate;
      return partial;
    },
    logits: async () => new Float32Array(0),
  });
  expect(await grpcHealth(address, "")).toBe("SERVING");
  const client = new ShardClient(address, 1 << 20);
  clients.push(client);
  return { server, address, client, running, release };
}

describe("ShardServer.shutdown", () => {
  it("reports NOT_SERVING, takes no new call, and finishes the one in flight before it resolves", async () => {
    const { server, address, client, running, release } = await shardWithGate();
    const inFlight = client.partial(call, new Date(Date.now() + 10_000));
    await running;
    let closed = false;
    const shutdown = server.shutdown(10_000).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(await grpcHealth(address, "")).not.toBe("SERVING");
    // Refused as a range a replica cannot answer, so the gateway fails over: on a new call (unary) or on the open stream.
    const refused = await client.partial(call, new Date(Date.now() + 2000)).then(
      () => null,
      (e: unknown) => ShardmaxError.from(e),
    );
    expect(refused?.code).toBe("UNAVAILABLE");
    expect(closed).toBe(false);
    release();
    await expect(inFlight).resolves.toMatchObject({ rows: 1 });
    await shutdown;
    expect(closed).toBe(true);
  });

  it("closes after the grace time even if a call never finishes", async () => {
    const { server, client, running } = await shardWithGate();
    const inFlight = client.partial(call, new Date(Date.now() + 10_000)).then(
      () => "answered",
      () => "cut off",
    );
    await running;
    const started = Date.now();
    await server.shutdown(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await inFlight).toBe("cut off");
  });
});
