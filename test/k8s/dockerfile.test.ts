/**
 * No container engine runs in CI, so the image is checked by construction:
 * the Dockerfile is parsed (dockerfile-ast) and its stages are held to what
 * the deployment relies on — Node 20 slim, production dependencies installed
 * without scripts, the compiled CLI as entry point, a numeric non-root user,
 * every file the processes read at run time copied in, only Linux
 * onnxruntime binaries kept, and no configuration baked in.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { imageEntrypoint, ROOT } from "../helpers/k8s-manifests.js";

const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const froms = dockerfile.getFROMs();
const instructions = dockerfile.getInstructions();
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const flag = (i: Instruction, name: string) =>
  (i as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
    .getFlags()
    .find((f) => f.getName() === name)
    ?.getValue() ?? null;

/** The instructions of each stage, by stage name. */
const stages = new Map(
  froms.map((from, s) => {
    const start = from.getRange().start.line;
    const end = froms[s + 1]?.getRange().start.line ?? Infinity;
    return [from.getBuildStage() ?? `stage${s}`, instructions.filter((i) => i.getRange().start.line > start && i.getRange().start.line < end)];
  }),
);
const runtimeName = froms.at(-1)!.getBuildStage()!;
const runtime = stages.get(runtimeName)!;
const runsIn = (stage: string) =>
  stages
    .get(stage)!
    .filter((i) => i.getKeyword() === "RUN")
    .map((i) => args(i).join(" "));
const copiesFrom = (source: string) => runtime.find((i) => i.getKeyword() === "COPY" && args(i)[0] === source);

describe("Dockerfile", () => {
  it("is multi-stage on Node 20 slim", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const defaults = Object.fromEntries(
      instructions
        .filter((i) => i.getKeyword() === "ARG")
        .flatMap((i) =>
          args(i)
            .filter((a) => a.includes("="))
            .map((a) => a.split("=") as [string, string]),
        ),
    );
    for (const from of froms) {
      const image = from.getImageName()!.replace(/^\$\{(\w+)\}$/, (_, name: string) => defaults[name] ?? "");
      expect(image).toMatch(/^node:20[.\d]*-[a-z]+-slim$|^node:20[.\d]*-slim$/);
    }
  });

  it("installs production dependencies only, without install scripts, and keeps only Linux onnxruntime binaries", () => {
    const nodeModules = copiesFrom("/app/node_modules")!;
    const depsStage = flag(nodeModules, "from")!;
    const install = runsIn(depsStage).join(" && ");
    expect(install).toMatch(/npm ci\b[^&]*--omit=dev/);
    expect(install).toMatch(/npm ci\b[^&]*--ignore-scripts/);
    expect(install).toMatch(/find node_modules\/onnxruntime-node\/bin .*! -name linux .*-exec rm -rf/);
    expect(install).toMatch(/find node_modules\/onnxruntime-node\/bin .*! -name "\$\{arch\}" .*-exec rm -rf/);
  });

  it("runs the compiled CLI from the build stage as its entry point", () => {
    const dist = copiesFrom("/app/dist")!;
    expect(runsIn(flag(dist, "from")!).join(" ")).toMatch(/tsc -p \./);
    const { entrypoint, workdir } = imageEntrypoint();
    const bin = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).bin.shardmax as string;
    expect(entrypoint).toEqual(["node", join(workdir, bin)]);
  });

  it("runs as a numeric non-root user (Kubernetes' runAsNonRoot can verify it)", () => {
    const user = runtime.filter((i) => i.getKeyword() === "USER").at(-1);
    expect(user).toBeDefined();
    const [uid] = args(user!)[0]!.split(":");
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it("copies every data file the processes read at run time (the .proto contracts)", () => {
    // bench/ is development tooling and test/ holds test fixtures (the vendored V2 specification): neither runs in the image.
    const tracked = execFileSync("git", ["ls-files", "*.proto"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((file) => file && !file.startsWith("bench/") && !file.startsWith("test/"));
    expect(tracked.length).toBeGreaterThan(0);
    const sources = runtime.filter((i) => i.getKeyword() === "COPY" && flag(i, "from") === null).flatMap((i) => args(i).slice(0, -1));
    for (const file of tracked)
      expect(
        sources.some((s) => file === s || file.startsWith(`${s}/`)),
        `${file} is copied into the image`,
      ).toBe(true);
  });

  it("bakes in no configuration: no SHARDMAX_* in the image", () => {
    const env = instructions.filter((i) => i.getKeyword() === "ENV").flatMap(args);
    expect(env.filter((e) => e.startsWith("SHARDMAX_"))).toEqual([]);
  });
});

describe(".dockerignore", () => {
  const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  it("keeps local installs, builds and tests out of the build context", () => {
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", "test", ".git"]));
  });

  it("keeps in everything the Dockerfile copies from the context", () => {
    const sources = instructions.filter((i) => i.getKeyword() === "COPY" && flag(i, "from") === null).flatMap((i) => args(i).slice(0, -1));
    for (const source of sources) {
      const top = source.split("/")[0]!;
      expect(
        ignored.filter((pattern) => pattern === top || pattern === source),
        `${source} is not ignored`,
      ).toEqual([]);
    }
  });
});
