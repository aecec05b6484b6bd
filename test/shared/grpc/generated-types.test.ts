/**
 * The wire types in shared/grpc/generated are generated from proto/ by
 * `npm run gen:proto`; this regenerates them into a temporary folder and
 * fails when the committed files differ (a .proto edited without regenerating).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const committed = join(root, "shared/grpc/generated");
let out = "";

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

it("the committed wire types are what proto-loader-gen-types makes of proto/ today", async () => {
  out = await mkdtemp(join(tmpdir(), "shardmax-gen-"));
  const script = JSON.parse(await readFile(join(root, "package.json"), "utf8")).scripts["gen:proto"] as string;
  const command = script.replace("rm -rf shared/grpc/generated && ", "").replace("--outDir=shared/grpc/generated", `--outDir=${out}`);
  execFileSync("sh", ["-c", command], { cwd: root, env: { ...process.env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH}` } });
  const fresh = await files(out);
  expect(fresh.length).toBeGreaterThan(10);
  expect(await files(committed)).toEqual(fresh);
  for (const file of fresh) expect(await readFile(join(committed, file), "utf8"), file).toBe(await readFile(join(out, file), "utf8"));
});
