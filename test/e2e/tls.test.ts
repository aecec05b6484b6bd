/**
 * TLS and mutual TLS end to end, in-process: shards that require a client
 * certificate, a gateway that dials them with one and serves REST (HTTPS) and
 * gRPC over mTLS. Answers are exact; a plaintext client, a client without a
 * certificate and one with a certificate of another CA are refused at every
 * door; a gateway without a client certificate never gets a shard's answer;
 * a certificate replaced on disk is served to new connections while calls
 * run, and none of them fails.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect } from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ShardmaxClient } from "../../sdk/index.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { randomHead, randomHidden, referenceSoftmax, within } from "../helpers/reference-softmax.js";
import { makeTestCerts, type TestCerts } from "../helpers/tls-certs.js";

const V = 701;
const D = 16;
const head = randomHead(14, V, D, 0.5, 1);
let certs: TestCerts;
let shards: InProcessShards;
let gateway: TestGateway;
let restCert: string;
let restKey: string;

beforeAll(async () => {
  certs = makeTestCerts();
  shards = await startInProcessShards(
    head,
    [
      [0, 300],
      [300, V],
    ],
    { tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert } },
  );
  // The gateway's own files, so the rotation test can replace them.
  restCert = `${certs.dir}/gateway.crt`;
  restKey = `${certs.dir}/gateway.key`;
  copyFileSync(certs.serverCert, restCert);
  copyFileSync(certs.serverKey, restKey);
  gateway = await startGateway(shards.addresses, {
    tls: { certFile: restCert, keyFile: restKey, clientCaFile: certs.caCert },
    shardTls: { caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey },
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await shards?.stop();
  certs?.remove();
});

const read = (path: string) => readFileSync(path);
const hidden = randomHidden(3, 2, D).map((r) => Array.from(r, Math.fround));

interface Reply {
  status: number;
  body: any;
  peerSerial: string;
}

function post(path: string, body: unknown, client: { cert?: string; key?: string } = { cert: certs.clientCert, key: certs.clientKey }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port: gateway.httpPort,
        path,
        method: "POST",
        servername: "localhost",
        ca: read(certs.caCert),
        ...(client.cert ? { cert: read(client.cert), key: read(client.key!) } : {}),
        headers: { "content-type": "application/json" },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const serial = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().serialNumber;
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()), peerSerial: serial }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

function expectExact(results: { logZ: number; top: { id: number; logprob: number }[] }[]): void {
  const refs = referenceSoftmax(head, hidden, 5);
  results.forEach((row, r) => {
    expect(within(row.logZ, refs[r]!.logZ, 1e-4)).toBe(true);
    expect(row.top.map((t) => t.id)).toEqual(refs[r]!.topIds);
  });
}

it("answers exactly over mTLS on REST and gRPC, with mTLS to the shards", async () => {
  const rest = await post("/v1/softmax", { hidden, topK: 5 });
  expect(rest.status).toBe(200);
  expectExact(rest.body.results);
  const client = new ShardmaxClient(gateway.grpcAddress, { tls: { ca: read(certs.caCert), cert: read(certs.clientCert), key: read(certs.clientKey) } });
  try {
    expectExact((await client.query({ hidden, topK: 5 })).results);
  } finally {
    client.close();
  }
});

it("refuses plaintext, certificate-less and foreign-CA clients on REST", async () => {
  await expect(fetch(`http://127.0.0.1:${gateway.httpPort}/v1/model`)).rejects.toThrow();
  await expect(post("/v1/softmax", { hidden }, {})).rejects.toThrow();
  await expect(post("/v1/softmax", { hidden }, { cert: certs.strangerCert, key: certs.strangerKey })).rejects.toThrow();
});

it("refuses plaintext, certificate-less and foreign-CA clients on gRPC", async () => {
  const attempts = [
    new ShardmaxClient(gateway.grpcAddress, { defaultDeadlineMs: 3000 }),
    new ShardmaxClient(gateway.grpcAddress, { defaultDeadlineMs: 3000, tls: { ca: read(certs.caCert) } }),
    new ShardmaxClient(gateway.grpcAddress, {
      defaultDeadlineMs: 3000,
      tls: { ca: read(certs.caCert), cert: read(certs.strangerCert), key: read(certs.strangerKey) },
    }),
  ];
  for (const client of attempts) {
    await expect(client.query({ hidden, topK: 5 })).rejects.toMatchObject({ code: expect.stringMatching(/UNAVAILABLE|DEADLINE_EXCEEDED/) });
    client.close();
  }
});

it("a gateway without a client certificate gets nothing from the shards; a server name that is not the address works when named", async () => {
  const noCert = await startGateway(shards.addresses, { shardTls: { caFile: certs.caCert }, refreshMs: 100 });
  try {
    const answer = await noCert.post("/v1/softmax", { hidden, topK: 5 });
    expect(answer.status).toBe(503);
  } finally {
    await noCert.stop();
  }
  const named = await startInProcessShards(head, [[0, V]], { tls: { certFile: certs.namedServerCert, keyFile: certs.namedServerKey } });
  const wrongName = await startGateway(named.addresses, { shardTls: { caFile: certs.caCert } });
  const rightName = await startGateway(named.addresses, { shardTls: { caFile: certs.caCert, serverName: "shard.internal" } });
  try {
    expect((await wrongName.post("/v1/softmax", { hidden, topK: 5 })).status).toBe(503);
    const answer = await rightName.post("/v1/softmax", { hidden, topK: 5 });
    expect(answer.status).toBe(200);
    expectExact(answer.body.results);
  } finally {
    await wrongName.stop();
    await rightName.stop();
    await named.stop();
  }
}, 60_000);

function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port, ca: read(certs.caCert), cert: read(certs.clientCert), key: read(certs.clientKey), servername: "localhost" },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

it("serves a certificate replaced on disk to new connections, and no call fails meanwhile", async () => {
  const before = await servedSerial(gateway.httpPort);
  const grpcBefore = await servedSerial(gateway.grpcPort);
  let stop = false;
  const statuses: number[] = [];
  const load = (async () => {
    while (!stop) statuses.push((await post("/v1/softmax", { hidden, topK: 5 })).status);
  })();
  const next = certs.issue("gateway-2", ["DNS:localhost", "IP:127.0.0.1"], "serverAuth");
  // Key first, then certificate: in between, the pair does not match, and the old one must stay in service.
  copyFileSync(next.key, restKey);
  copyFileSync(next.cert, restCert);
  let after = before;
  let grpcAfter = grpcBefore;
  for (let i = 0; i < 200 && (after === before || grpcAfter === grpcBefore); i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await servedSerial(gateway.httpPort);
    grpcAfter = await servedSerial(gateway.grpcPort);
  }
  stop = true;
  await load;
  expect(after).not.toBe(before);
  expect(grpcAfter).not.toBe(grpcBefore);
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.every((s) => s === 200)).toBe(true);
}, 60_000);
