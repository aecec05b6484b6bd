/**
 * The README's V2 curl line, run as written (curl and node in a shell)
 * against a real gateway of d = 256 over real shards: its answer validates
 * against the specification's schema and equals float64 computed here.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { packageRoot } from "../../shared/package-root.js";
import { startGateway, type TestGateway } from "../helpers/gateway.js";
import { type InProcessShards, startInProcessShards } from "../helpers/in-process-shards.js";
import { gemmTolerance, logProbTolerance, logZTolerance, randomHead, referenceLogits, referenceRow, within } from "../helpers/reference-softmax.js";
import { specErrors } from "../helpers/v2-spec.js";

const V = 1000;
const D = 256;
const head = randomHead(51, V, D, 0.2, 1);
let shards: InProcessShards;
let gateway: TestGateway;

beforeAll(async () => {
  shards = await startInProcessShards(head, [
    [0, 300],
    [300, V],
  ]);
  gateway = await startGateway(shards.addresses);
  for (let i = 0; i < 200 && !gateway.core.readiness().ready; i++) await new Promise((r) => setTimeout(r, 25));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await shards?.stop();
});

function readmeBlock(): string {
  const readme = readFileSync(join(packageRoot(), "README.md"), "utf8");
  const block = /<!-- v2-curl:[^\n]*-->\n```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error("README: no v2-curl block");
  return block[1]!;
}

it("the README's V2 curl line answers exactly, in the specification's shape", async () => {
  const command = readmeBlock().replaceAll("localhost:8080", `127.0.0.1:${gateway.httpPort}`);
  expect(command).toContain(`127.0.0.1:${gateway.httpPort}/v2/models/shardmax/infer`);
  const { stdout } = await promisify(execFile)("sh", ["-c", command], { timeout: 30_000 });
  const response = JSON.parse(stdout);
  expect(specErrors("inference_response", response)).toEqual([]);
  const ref = referenceRow(
    referenceLogits(
      head,
      Array.from({ length: D }, (_, i) => Math.fround(Math.sin(i))),
    ),
    V,
  );
  const out = (name: string) => response.outputs.find((o: { name: string }) => o.name === name).data as number[];
  const tol = (id: number) => Math.max(logProbTolerance(ref, id), gemmTolerance(ref, D));
  expect(within(out("logsumexp")[0]!, ref.logZ, Math.max(logZTolerance(ref), gemmTolerance(ref, D)))).toBe(true);
  expect(out("top_ids")).toEqual(ref.topIds.slice(0, 3));
  ref.topIds.slice(0, 3).forEach((id, j) => expect(within(out("top_logprobs")[j]!, ref.logProbs[id]!, tol(id))).toBe(true));
  [0, 42].forEach((id, j) => expect(within(out("target_logprobs")[j]!, ref.logProbs[id]!, tol(id))).toBe(true));
});
