/**
 * One query's trace, end to end: a tiny OTLP/HTTP (JSON) receiver on
 * loopback, two real shard processes and a real gateway, both sending to it.
 * The spans of one query form one tree in one trace: the gateway's query
 * span, a child per shard call (one per range), under each the shard's own
 * span (joined by the traceparent in the gRPC metadata), and under that its
 * queue wait and compute.
 */
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { tempDir, writeHead } from "../helpers/heads.js";
import { type ShardProcess, startShard, waitFor } from "../helpers/processes.js";
import { randomHead } from "../helpers/reference-softmax.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

const spans: OtlpSpan[] = [];
let receiver: Server;
let endpoint: string;
let shards: ShardProcess[] = [];
let gateway: TestGateway;

/** Collects the spans of every OTLP/HTTP JSON export. */
function startReceiver(): Promise<Server> {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const payload = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of payload.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId, name: s.name, service });
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  receiver = await startReceiver();
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/v1/traces`;
  const file = await writeHead(join(await tempDir(), "head.safetensors"), randomHead(5, 101, 8));
  shards = await Promise.all(
    [0, 1].map((i) => startShard(["--weights", file, "--shard", `${i}/2`, "--listen", "127.0.0.1:0", "--threads", "1", "--otlp-endpoint", endpoint])),
  );
  gateway = await startGateway(
    shards.map((s) => s.address),
    { otlpEndpoint: endpoint },
  );
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all(shards.map((s) => s.kill("SIGKILL")));
  receiver?.close();
});

describe("tracing", () => {
  it("sends one query's span tree, gateway and shards, in one trace", async () => {
    const answer = await gateway.post("/v1/softmax", { hidden: [[1, 0, 0, 0, 0, 0, 0, 2]], topK: 1 });
    expect(answer.status).toBe(200);
    const query = () => spans.find((s) => s.name === "shardmax.query");
    await waitFor(() => spans.filter((s) => s.traceId === query()?.traceId).length >= 9, 15_000, "9 spans of the query's trace");
    const root = query()!;
    const tree = spans.filter((s) => s.traceId === root.traceId);
    expect(root.parentSpanId ?? "").toBe("");
    expect(root.service).toBe("shardmax-gateway");
    const calls = tree.filter((s) => s.name === "shardmax.shard_call");
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.parentSpanId).toBe(root.spanId);
      const partial = tree.filter((s) => s.name === "shardmax.shard.partial" && s.parentSpanId === call.spanId);
      expect(partial).toHaveLength(1);
      expect(partial[0]!.service).toBe("shardmax-shard");
      const children = tree
        .filter((s) => s.parentSpanId === partial[0]!.spanId)
        .map((s) => s.name)
        .sort();
      expect(children).toEqual(["shardmax.shard.compute", "shardmax.shard.queue"]);
    }
    expect(tree).toHaveLength(9);
  }, 30_000);
});
