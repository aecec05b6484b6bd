/**
 * `shardmax inspect PATH`: every tensor of a checkpoint (name, dtype, shape,
 * file), the likely output heads marked, and what `shardmax shard` would
 * serve from it — or the one-line reason it would refuse. `--json` prints the
 * same as one JSON object for scripts.
 */
import { relative } from "node:path";
import type { Inventory, InventoryEntry } from "../../shared/checkpoint/inventory.js";
import { type CliContext, type Command, parseOrHelp } from "./command.js";
import { type FlagTable, flag, UsageError } from "./flags.js";
import { nonEmpty } from "./values.js";

export const INSPECT_FLAGS = {
  tensor: flag.optional({ metavar: "NAME", help: "show what `shard --tensor NAME` would serve", parse: nonEmpty("a tensor name") }),
  bias: flag.optional({ metavar: "NAME|FILE", help: "show what `shard --bias …` would serve", parse: nonEmpty("a tensor name or file") }),
  json: flag.switch({ help: "print one JSON object instead of a table" }),
};

const HELP = {
  usage: "shardmax inspect PATH [flags]",
  summary:
    "List the tensors of a checkpoint (a .safetensors file, a Hugging Face folder or a .npy file), mark the likely heads, and say what `shardmax shard` would serve.",
};

const FORMAT_NAMES = { builtin: "builtin head", "hf-folder": "Hugging Face checkpoint folder", npy: ".npy file", safetensors: "safetensors file" } as const;
const LAYOUT_NAMES = {
  index: "tensors found through model.safetensors.index.json",
  single: "model.safetensors",
  scan: "no index: every .safetensors file scanned",
} as const;
const ROLE_NOTES = { head: "head", "tied-embedding": "input embedding (the head when embeddings are tied)", "head-bias": "head bias" } as const;

export const inspectCommand: Command = {
  name: "inspect",
  summary: "list a checkpoint's tensors and what `shard` would serve from it",
  async run(argv, context) {
    const { path, rest } = splitPath(argv, INSPECT_FLAGS);
    const parsed = parseOrHelp(INSPECT_FLAGS, HELP, rest, context);
    if (!parsed) return 0;
    if (path === undefined) throw new UsageError("missing PATH: the checkpoint file or folder to inspect");
    const { inspectCheckpoint } = await import("../../shared/checkpoint/inventory.js");
    const inventory = await inspectCheckpoint(path, { tensor: parsed.values.tensor, bias: parsed.values.bias });
    if (parsed.values.json) context.out(JSON.stringify(inventory, null, 2));
    else printTable(inventory, context);
    return 0;
  },
};

/** The one positional argument; a flag's value (`--tensor NAME`) is not mistaken for it. */
function splitPath(argv: readonly string[], table: FlagTable): { path: string | undefined; rest: string[] } {
  const rest: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") positional.push(arg);
    else {
      rest.push(arg);
      const spec = table[arg.replace(/^--/, "")];
      if (spec && spec.metavar !== "" && !arg.includes("=") && i + 1 < argv.length) rest.push(argv[++i]!);
    }
  }
  if (positional.length > 1) throw new UsageError(`inspect takes one PATH, got ${positional.length}: ${positional.join(" ")}`);
  return { path: positional[0], rest };
}

function printTable(inventory: Inventory, context: CliContext): void {
  const where = inventory.layout ? `${FORMAT_NAMES[inventory.format]}, ${LAYOUT_NAMES[inventory.layout]}` : FORMAT_NAMES[inventory.format];
  context.out(`${inventory.path}: ${where}, ${inventory.tensors.length} tensor${inventory.tensors.length === 1 ? "" : "s"}`);
  const file = (t: InventoryEntry) => (inventory.format === "hf-folder" ? relative(inventory.path, t.file) : t.file === inventory.path ? "" : t.file);
  const rows = inventory.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(", ")}]`, file(t), t.role ? ROLE_NOTES[t.role] : ""]);
  const header = ["NAME", "DTYPE", "SHAPE", "FILE", "ROLE"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const row of [header, ...rows])
    context.out(
      `  ${row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd()}`,
    );
  const served = inventory.served;
  if (served.ok) {
    context.out(
      `shard serves: ${served.weight} ${served.dtype} [${served.vocabSize}, ${served.dim}] (V=${served.vocabSize}, d=${served.dim}), bias ${served.bias ?? "none"}`,
    );
  } else {
    context.out(`shard refuses: ${served.error}`);
  }
}
