/** Heads written to real safetensors files for end-to-end tests. */
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Head } from "./reference-softmax.js";
import { writeSafetensors } from "./safetensors-writer.js";

/** A fresh folder, removed when the test process exits (shards have stopped by then). */
export async function tempDir(prefix = "shardmax-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function writeHead(path: string, head: Head, withBias = true): Promise<string> {
  await writeSafetensors(path, {
    "lm_head.weight": { shape: [head.vocabSize, head.dim], data: Float32Array.from(head.weight) },
    ...(withBias ? { "lm_head.bias": { shape: [head.vocabSize], data: Float32Array.from(head.bias) } } : {}),
  });
  return path;
}
