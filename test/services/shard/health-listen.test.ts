/**
 * A shard under mutual TLS with --health-listen: the plaintext port answers
 * grpc.health.v1 with the shard's own statuses (what kubelet's gRPC probe
 * asks) and nothing else, while the main port refuses a client without a certificate.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ShardServer } from "../../../services/shard/server.js";
import { shardmaxProto } from "../../../shared/grpc/proto.js";
import { silentLogger } from "../../../shared/log.js";
import { makeTestCerts, type TestCerts } from "../../helpers/tls-certs.js";

let certs: TestCerts;
let server: ShardServer;
let port: number;
let healthPort: number;

beforeAll(async () => {
  certs = makeTestCerts();
  server = new ShardServer({
    maxRows: 8,
    maxTopK: 8,
    maxMessageBytes: 1 << 20,
    log: silentLogger,
    tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert },
  });
  port = await server.listen("127.0.0.1:0");
  healthPort = await server.listenHealth("127.0.0.1:0");
});

afterAll(async () => {
  await server.shutdown(100);
  certs.remove();
});

/** HealthCheckResponse.status: field 1, varint; SERVING = 1, NOT_SERVING = 2. */
function check(address: string, service: string): Promise<{ code: number; status?: number }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const name = Buffer.from(service);
  const request = service ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      { deadline: Date.now() + 3000 },
      (err, res) => {
        client.close();
        resolve(err ? { code: err.code } : { code: 0, status: res!.length >= 2 ? res![1]! : 0 });
      },
    ),
  );
}

it("answers health in plaintext on its own port, following the shard's status", async () => {
  expect(await check(`127.0.0.1:${healthPort}`, "")).toEqual({ code: 0, status: 2 });
  expect(await check(`127.0.0.1:${healthPort}`, "liveness")).toEqual({ code: 0, status: 1 });
  server.setServing(true);
  expect(await check(`127.0.0.1:${healthPort}`, "")).toEqual({ code: 0, status: 1 });
});

it("serves no Shard method on the health port, and the main port refuses plaintext", async () => {
  const onHealth = new (shardmaxProto().Shard)(`127.0.0.1:${healthPort}`, grpc.credentials.createInsecure());
  const code = await new Promise<number>((resolve) => onHealth.info({}, { deadline: Date.now() + 3000 }, (err) => resolve(err?.code ?? 0)));
  onHealth.close();
  expect(code).toBe(grpc.status.UNIMPLEMENTED);
  expect((await check(`127.0.0.1:${port}`, "")).code).toBe(grpc.status.UNAVAILABLE);
});
