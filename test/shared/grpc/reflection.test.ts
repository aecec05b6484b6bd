/**
 * gRPC server reflection on the gateway and on a shard, read by a client built
 * from the reflection service's own .proto (what grpcurl speaks): each lists
 * its service and describes it without the project's .proto files.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../../helpers/in-process-shards.js";
import { randomHead } from "../../helpers/reference-softmax.js";

const protoDir = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")), "build/proto");
const definition = protoLoader.loadSync("grpc/reflection/v1/reflection.proto", { includeDirs: [protoDir], keepCase: true, defaults: true, oneofs: true });
const Reflection = (grpc.loadPackageDefinition(definition) as any).grpc.reflection.v1.ServerReflection as grpc.ServiceClientConstructor;

let shards: InProcessShards;
let gateway: TestGateway;

beforeAll(async () => {
  shards = await startInProcessShards(randomHead(5, 64, 8), [[0, 64]]);
  gateway = await startGateway(shards.addresses);
});

afterAll(async () => {
  await gateway.stop();
  await shards.stop();
});

/** One request on the bidirectional ServerReflectionInfo stream, its one answer. */
async function ask(address: string, request: object): Promise<any> {
  const client = new Reflection(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    serverReflectionInfo(): grpc.ClientDuplexStream<object, any>;
  };
  const stream = client.serverReflectionInfo();
  const answer = new Promise((resolve, reject) => {
    stream.once("data", resolve);
    stream.once("error", reject);
  });
  stream.write(request);
  stream.end();
  try {
    return await answer;
  } finally {
    client.close();
  }
}

it.each([
  ["the gateway", () => gateway.grpcAddress, "shardmax.v1.Softmax", "Query"],
  ["the gateway (Open Inference Protocol)", () => gateway.grpcAddress, "inference.GRPCInferenceService", "ModelInfer"],
  ["a shard", () => shards.addresses[0]!, "shardmax.v1.Shard", "Partial"],
])("%s lists and describes its service", async (_name, address, service, method) => {
  const listed = await ask(address(), { list_services: "" });
  expect(listed.list_services_response.service.map((s: { name: string }) => s.name)).toContain(service);
  const described = await ask(address(), { file_containing_symbol: service });
  const files: Buffer[] = described.file_descriptor_response.file_descriptor_proto;
  expect(files.length).toBeGreaterThan(0);
  expect(Buffer.concat(files).toString("latin1")).toContain(method);
});
