/**
 * Watched files (certificates, API keys): loaded at once, re-read on change,
 * a change that cannot be used keeps the last good value, and a file over the
 * size limit is refused naming the limit, at start and on change.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { MAX_WATCHED_FILE_BYTES, WatchedFiles } from "../../../shared/files/watched-files.js";

const dir = mkdtempSync(join(tmpdir(), "shardmax-watched-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (contents: Buffer[]) => contents[0]!.toString("utf8");

/** As Kubernetes swaps a Secret: the new file appears whole, never half-written. */
function replace(path: string, contents: string | Buffer): void {
  writeFileSync(`${path}.next`, contents);
  renameSync(`${path}.next`, path);
}

it("refuses a file over the size limit at start, naming the limit", () => {
  const path = join(dir, "huge");
  writeFileSync(path, Buffer.alloc(MAX_WATCHED_FILE_BYTES + 1));
  expect(() => new WatchedFiles([path], { load: text, pollMs: 1000 })).toThrow(`over the ${MAX_WATCHED_FILE_BYTES}-byte limit`);
});

it("takes a changed file, and keeps the last good value when a change is over the limit", async () => {
  const path = join(dir, "keys");
  writeFileSync(path, "one");
  const changes: string[] = [];
  const rejected: string[] = [];
  let wake = () => {};
  const files = new WatchedFiles([path], {
    load: text,
    pollMs: 20,
    onChange: (value) => {
      changes.push(value);
      wake();
    },
    onRejected: (err) => {
      rejected.push(err.message);
      wake();
    },
  });
  expect(files.value).toBe("one");
  replace(path, "two");
  await new Promise<void>((resolve) => (wake = resolve));
  expect(files.value).toBe("two");
  replace(path, Buffer.alloc(MAX_WATCHED_FILE_BYTES + 1));
  await new Promise<void>((resolve) => (wake = resolve));
  expect(rejected.at(-1)).toMatch(/byte limit/);
  expect(files.value).toBe("two");
  expect(changes).toEqual(["two"]);
  files.close();
});
