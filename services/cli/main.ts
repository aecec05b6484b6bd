#!/usr/bin/env node
/**
 * The `shardmax` command: picks a subcommand and runs it. This is the edge:
 * the only module that reads process.argv and process.env, and the one place
 * that turns errors into exit codes —
 *   0  done (or stopped by SIGTERM/SIGINT after a clean drain)
 *   1  it ran and failed (a file cannot be read, a port is taken, a shard died)
 *   2  it was invoked wrongly (unknown flag, bad value, missing flag)
 * Every failure is one line `shardmax: <message>`, never a stack trace.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../shared/package-root.js";
import type { CliContext, Command } from "./command.js";
import { UsageError } from "./flags.js";
import { gatewayCommand } from "./gateway-command.js";
import { inspectCommand } from "./inspect-command.js";
import { localCommand } from "./local-command.js";
import { shardCommand } from "./shard-command.js";

const COMMANDS: readonly Command[] = [shardCommand, gatewayCommand, localCommand, inspectCommand];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3;
  return [
    "shardmax — exact softmax over a large vocabulary, sharded by class range",
    "",
    "Usage: shardmax <command> [flags]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run 'shardmax <command> --help' for the flags of a command.",
    "Every flag can also be set as SHARDMAX_<FLAG> (upper case, '-' → '_'), e.g. --deadline-ms ↔ SHARDMAX_DEADLINE_MS;",
    "a flag on the command line wins over its environment variable.",
    "",
    "  -h, --help     print this help",
    "  --version      print the shardmax version",
  ].join("\n");
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

async function main(argv: readonly string[], context: CliContext): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    context.out(topHelp());
    return 0;
  }
  if (first === "--version") {
    context.out(version());
    return 0;
  }
  if (first === "help" && rest.length > 0) return main([rest[0]!, "--help"], context);
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    const what = first.startsWith("-") ? `unknown flag ${first}` : `unknown command ${JSON.stringify(first)}`;
    throw new UsageError(`${what}; the commands are ${COMMANDS.map((c) => c.name).join(", ")}`);
  }
  try {
    return await command.run(rest, context);
  } catch (err) {
    if (err instanceof UsageError) err.command = command.name;
    throw err;
  }
}

function fail(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`shardmax: ${message.split("\n")[0]}\n`);
  if (!(err instanceof UsageError)) return 1;
  process.stderr.write(`Run 'shardmax ${err.command ? `${err.command} ` : ""}--help' for usage.\n`);
  return 2;
}

/** Exit once stdout has taken everything written so far (it may be a pipe). */
function exit(code: number): void {
  process.stdout.write("", () => process.exit(code));
}

const context: CliContext = {
  env: { ...process.env },
  cliFile: fileURLToPath(import.meta.url),
  execArgv: process.execArgv,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

// A closed pipe (`shardmax --help | head -1`, or a `local` parent that died) is no reason to crash.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});
process.on("uncaughtException", (err) => exit(fail(err)));
process.on("unhandledRejection", (err) => exit(fail(err)));
main(process.argv.slice(2), context).then(exit, (err: unknown) => exit(fail(err)));
