/**
 * The specification files the V2 tests rely on are vendored verbatim (a CI
 * clone has no ../shared): byte-identical to the shared copy when it exists,
 * and always present with their licence.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SPEC_DIR } from "../helpers/v2-spec.js";

const ROOT = join(SPEC_DIR, "..", "..", "..");
/** The shared folder beside the repository (../shared), or beside the folder of worktrees. */
const SHARED = [join(ROOT, "..", "shared"), join(ROOT, "..", "..", "shared")].map((d) => join(d, "specs", "open-inference-protocol")).find((d) => existsSync(d)) ?? "";
const FILES = ["LICENSE", "README.md", "open_inference_grpc.proto", "open_inference_rest.yaml"];

describe("vendored Open Inference Protocol files", () => {
  it("are all here, with the Apache licence", () => {
    expect(readdirSync(SPEC_DIR).sort()).toEqual([...FILES].sort());
    expect(readFileSync(join(SPEC_DIR, "LICENSE"), "utf8")).toMatch(/Apache License\s+Version 2\.0/);
  });

  it.skipIf(SHARED === "")("are byte-identical to the shared specification folder", () => {
    for (const file of FILES) expect(readFileSync(join(SPEC_DIR, file)).equals(readFileSync(join(SHARED, file))), file).toBe(true);
  });
});
