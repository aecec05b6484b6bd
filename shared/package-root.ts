/**
 * The folder holding package.json: data files (proto/, the ONNX subset) are
 * read from there, whether code runs from sources or from dist/.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "proto"))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error("shardmax: cannot find the package folder (package.json with proto/)");
}
