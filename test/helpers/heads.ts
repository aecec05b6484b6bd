/** Heads written to real safetensors files for end-to-end tests. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Head } from "./reference-softmax.js";
import { writeSafetensors } from "./safetensors-writer.js";

export async function tempDir(prefix = "shardmax-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeHead(path: string, head: Head, withBias = true): Promise<string> {
  await writeSafetensors(path, {
    "lm_head.weight": { shape: [head.vocabSize, head.dim], data: Float32Array.from(head.weight) },
    ...(withBias ? { "lm_head.bias": { shape: [head.vocabSize], data: Float32Array.from(head.bias) } } : {}),
  });
  return path;
}
