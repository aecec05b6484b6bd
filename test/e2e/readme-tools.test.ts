/**
 * The README's "Use it from your tools" blocks marked `readme-run`, run as
 * written (sh, curl, node) against a real gateway of d = 256 over in-process
 * shards, with the default ports swapped for the test's: the curl answer is
 * exact against float64, the OpenAPI one lists the routes, and the SDK one
 * prints the float64 top-3.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { packageRoot } from "../../shared/package-root.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { gemmTolerance, randomHead, referenceLogits, referenceRow } from "../helpers/reference-softmax.js";

const V = 700;
const D = 256;
const head = randomHead(61, V, D, 0.2, 1);
const row = Array.from({ length: D }, (_, i) => Math.fround(Math.cos(i)));
let shards: InProcessShards;
let gateway: TestGateway;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 250],
    [250, V],
  ]);
  gateway = await startGateway(shards.addresses);
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await shards?.stop();
});

function block(name: string): string {
  const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");
  const found = new RegExp(`<!-- readme-run: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!found) throw new Error(`README: no readme-run block ${name}`);
  return found[1]!.replaceAll("localhost:8080", `127.0.0.1:${gateway.httpPort}`).replaceAll("127.0.0.1:50050", gateway.grpcAddress);
}

/** Runs in the package folder, so `shardmax/sdk` resolves to this checkout's build as it does for a user of the checkout. */
async function run(name: string): Promise<string> {
  const { stdout } = await promisify(execFile)("sh", ["-c", block(name)], { cwd: packageRoot(), timeout: 30_000 });
  return stdout;
}

const ref = referenceRow(referenceLogits(head, row), 3);

it("the curl /v1 line answers exactly, with its draws", async () => {
  const answer = JSON.parse(await run("curl-v1"));
  const result = answer.results[0];
  expect(Math.abs(result.logZ - ref.logZ)).toBeLessThanOrEqual(gemmTolerance(ref, D));
  expect(result.top.map((t: { id: number }) => t.id)).toEqual(ref.topIds);
  expect(result.seed).toBe(7);
  expect(result.samples).toHaveLength(2);
});

it("the OpenAPI line lists the routes", async () => {
  const paths = (await run("openapi")).trim().split("\n");
  expect(paths).toEqual(expect.arrayContaining(["/v1/softmax", "/v1/model", "/v2/models/{name}/infer"]));
});

it("the SDK line prints the top-3", async () => {
  expect(JSON.parse(await run("sdk"))).toEqual(ref.topIds);
});
