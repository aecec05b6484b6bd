/**
 * What every subcommand gets from main.ts, the only place that touches
 * process.argv and process.env: its arguments, the environment as a plain
 * record, and where to write. A command returns its exit code.
 */
import { type FlagTable, formatHelp, type Parsed, parseFlags } from "./flags.js";

export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The CLI entry file, so `local` can start children running this same CLI. */
  readonly cliFile: string;
  /** Node flags of this process (e.g. a TS loader), passed on to children. */
  readonly execArgv: readonly string[];
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: readonly string[], context: CliContext): Promise<number>;
}

export interface CommandHelp {
  usage: string;
  summary: string;
}

/** Parses flags, or prints help and returns null when --help was asked. */
export function parseOrHelp<F extends FlagTable>(table: F, help: CommandHelp, argv: readonly string[], context: CliContext): Parsed<F> | null {
  const parsed = parseFlags(table, argv, context.env);
  if (!parsed.help) return parsed;
  context.out(formatHelp(help.usage, help.summary, table).trimEnd());
  return null;
}

/** Fails a running command with one line and exit code 1 (not a usage mistake). */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
}
