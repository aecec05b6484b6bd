/**
 * The CLI on real checkpoints, as a user runs it (the compiled dist/ CLI in a
 * real process): every bad checkpoint is refused with one line on stderr,
 * exit code 1, no stack trace and no hang; `shardmax inspect` lists the
 * tensors and says what `shard` would serve; a label file of the wrong size
 * stops the gateway.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envName } from "../../services/cli/flags.js";
import { INSPECT_FLAGS } from "../../services/cli/inspect-command.js";
import { uint16Le, writeHfFolder, writeNpy } from "../helpers/checkpoint-writers.js";
import { CLI, type ShardProcess, startShard } from "../helpers/processes.js";
import { frame, writeSafetensors } from "../helpers/safetensors-writer.js";

const V = 40;
const D = 4;
let dir: string;
let folder: string;
const shards: ShardProcess[] = [];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("SHARDMAX_")));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** Exit 1, exactly one line `shardmax: weights …: reason`, no stack trace. */
function expectOneLine(result: Run, pattern: RegExp): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^shardmax: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

const shardOn = (weights: string, ...extra: string[]) => run(["shard", "--weights", weights, "--shard", "0/1", "--listen", "127.0.0.1:0", ...extra]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shardmax-cli-ckpt-"));
  folder = await writeHfFolder(join(dir, "tied"), [
    { "model.embed_tokens.weight": { shape: [V, D], dtype: "BF16", bytes: uint16Le(new Uint16Array(V * D).fill(0x3f80)) } },
    { "model.norm.weight": { shape: [D], data: new Float32Array(D) } },
  ]);
});

afterAll(async () => {
  await Promise.all(shards.map((s) => s.kill("SIGTERM")));
  await rm(dir, { recursive: true, force: true });
});

describe("bad checkpoints: one line, exit 1", () => {
  it("missing file", async () => {
    expectOneLine(await shardOn(join(dir, "nope.safetensors")), /nope\.safetensors: no such file$/);
  });

  it("folder without weights", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    expectOneLine(await shardOn(empty), /folder has no weights/);
  });

  it("tied embeddings: names the tensor and the flag", async () => {
    expectOneLine(
      await shardOn(folder),
      /ties its output head to the input embeddings "model\.embed_tokens\.weight"; serve them with --tensor model\.embed_tokens\.weight$/,
    );
  });

  it("unknown tensor, with near names", async () => {
    expectOneLine(
      await shardOn(folder, "--tensor", "model.embed_token.weight"),
      /no tensor "model\.embed_token\.weight"; available: model\.embed_tokens\.weight, /,
    );
  });

  it("truncated file", async () => {
    const path = join(dir, "short.safetensors");
    await writeSafetensors(path, { "lm_head.weight": { shape: [V, D], data: new Float32Array(V * D) } });
    await truncate(path, 100);
    expectOneLine(await shardOn(path), /truncated/);
  });

  it("header length beyond the file, and malformed header JSON", async () => {
    const beyond = join(dir, "beyond.safetensors");
    await writeFile(beyond, frame("{}", new Uint8Array(4), 99_999n));
    expectOneLine(await shardOn(beyond), /header length 99999 reaches beyond the file size/);
    const broken = join(dir, "broken.safetensors");
    await writeFile(broken, frame('{"lm_head.weight": [', new Uint8Array(4)));
    expectOneLine(await shardOn(broken), /header is not valid JSON/);
  });

  it("unsupported dtype", async () => {
    const path = await writeNpy(join(dir, "ints.npy"), "<i8", [V, D], new Uint8Array(V * D * 8));
    expectOneLine(await shardOn(path), /dtype I64; a \.npy head must be '<f4' \(float32\) or '<f2' \(float16\)/);
  });

  it("range beyond V", async () => {
    const path = join(dir, "ok.safetensors");
    await writeSafetensors(path, { "lm_head.weight": { shape: [V, D], data: new Float32Array(V * D) } });
    expectOneLine(await run(["shard", "--weights", path, "--range", `0:${V + 1}`, "--listen", "127.0.0.1:0"]), new RegExp(`beyond V=${V}`));
  });

  // Found while the slice loads, after the shard listens: its last line says why, after its own log lines.
  const expectLastLine = (result: Run, pattern: RegExp) => {
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(pattern);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  };

  it("a non-finite weight or bias: the shard refuses to load naming tensor, row and column, and inspect says so", async () => {
    const weights = new Float32Array(V * D).fill(0.5);
    weights[37 * D + 2] = NaN;
    const nan = join(dir, "nan.safetensors");
    await writeSafetensors(nan, { "lm_head.weight": { shape: [V, D], data: weights } });
    expectLastLine(await shardOn(nan, "--block-rows", "8"), /^shardmax: .*lm_head\.weight\[37\]\[2\] is NaN; every weight must be finite$/);
    const inspected = await run(["inspect", nan]);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/shard refuses: .*lm_head\.weight\[37\]\[2\] is NaN/);
    const bias = new Float32Array(V);
    bias[5] = -Infinity;
    const inf = join(dir, "inf-bias.safetensors");
    await writeSafetensors(inf, { "lm_head.weight": { shape: [V, D], data: new Float32Array(V * D) }, "lm_head.bias": { shape: [V], data: bias } });
    expectLastLine(
      await run(["shard", "--weights", inf, "--range", "0:20", "--listen", "127.0.0.1:0"]),
      /^shardmax: .*lm_head\.bias\[5\] is -Infinity; every bias must be finite$/,
    );
  });

  it("index naming a missing shard file", async () => {
    const broken = await writeHfFolder(join(dir, "missing-shard"), [
      { "lm_head.weight": { shape: [V, D], data: new Float32Array(V * D) } },
      { x: { shape: [1], data: new Float32Array(1) } },
    ]);
    await rm(join(broken, "model-00002-of-00002.safetensors"));
    expectOneLine(await shardOn(broken), /names model-00002-of-00002\.safetensors, which is missing$/);
  });
});

describe("shardmax inspect", () => {
  it("lists every tensor with dtype, shape and file, marks the tied embedding, and says why shard would refuse", async () => {
    const { code, stdout, stderr } = await run(["inspect", folder]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Hugging Face checkpoint folder, tensors found through model.safetensors.index.json, 2 tensors");
    expect(stdout).toMatch(/model\.embed_tokens\.weight\s+BF16\s+\[40, 4\]\s+model-00001-of-00002\.safetensors\s+input embedding/);
    expect(stdout).toMatch(/model\.norm\.weight\s+F32\s+\[4\]\s+model-00002-of-00002\.safetensors\n/);
    expect(stdout).toMatch(/shard refuses: .*--tensor model\.embed_tokens\.weight/);
    const chosen = await run(["inspect", folder, "--tensor", "model.embed_tokens.weight"]);
    expect(chosen.stdout).toMatch(/shard serves: model\.embed_tokens\.weight BF16 \[40, 4\] \(V=40, d=4\), bias none/);
  });

  it("--json prints the inventory; a bad path is one line, exit 1; a missing PATH is a usage error", async () => {
    const json = JSON.parse((await run(["inspect", "--json", folder])).stdout);
    expect(json).toMatchObject({ format: "hf-folder", layout: "index", served: { ok: false } });
    expect(json.tensors.map((t: { name: string }) => t.name)).toEqual(["model.embed_tokens.weight", "model.norm.weight"]);
    expectOneLine(await run(["inspect", join(dir, "nothing")]), /nothing: no such file$/);
    const usage = await run(["inspect"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^shardmax: missing PATH/);
  });

  it("--help names every flag and its env var", async () => {
    const { code, stdout } = await run(["inspect", "--help"]);
    expect(code).toBe(0);
    for (const name of Object.keys(INSPECT_FLAGS)) {
      expect(stdout).toContain(`--${name}`);
      expect(stdout).toContain(envName(name));
    }
  });
});

it("a gateway whose label file is not V long exits 1, its last line saying why", async () => {
  const path = join(dir, "head.safetensors");
  await writeSafetensors(path, { "lm_head.weight": { shape: [V, D], data: new Float32Array(V * D) } });
  const s = await startShard(["--weights", path, "--shard", "0/1", "--listen", "127.0.0.1:0", "--threads", "1"]);
  shards.push(s);
  const labels = join(dir, "labels.txt");
  await writeFile(labels, "a\nb\n");
  const result = await run(["gateway", "--shards", s.address, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--labels", labels]);
  expect(result.code).toBe(1);
  // Before it: the gateway's own log lines (labels loaded, shards seen).
  expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^shardmax: labels .*labels\\.txt: has 2 lines, but the head has V=${V} classes$`));
  expect(result.stderr).not.toMatch(/^\s+at /m);
});
