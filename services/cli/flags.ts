/**
 * Flags and their environment twins, parsed once at the edge. Each command
 * declares a table of FlagSpecs; `parseFlags` reads argv with node's strict
 * `util.parseArgs`, falls back to `SHARDMAX_<FLAG>` (upper-case, dashes →
 * underscores), then to the default, and runs every value through its parser.
 * A flag on the command line beats its environment variable, so a pod's env
 * can be overridden per run. An empty environment variable counts as unset
 * (Kubernetes manifests often template variables to "").
 */
import { parseArgs } from "node:util";

/** A mistake in how shardmax was invoked: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The subcommand whose --help the hint should point to. */
  command: string | null = null;
}

/** Thrown by a value parser; the message says what was expected. */
export class ValueError extends Error {
  override readonly name = "ValueError";
}

type Fallback<T> = { kind: "default"; value: T; text: string } | { kind: "required" } | { kind: "optional"; text: string };

export interface FlagSpec<T> {
  /** Placeholder for the value in help, e.g. "HOST:PORT"; "" for a switch. */
  readonly metavar: string;
  readonly help: string;
  readonly parse: (raw: string) => T;
  readonly fallback: Fallback<T>;
  /** Accepted, but left out of --help (e.g. the `local` ↔ `shard` event channel). */
  readonly hidden: boolean;
  /** The environment twin when it is not SHARDMAX_<FLAG> (e.g. SHARDMAX_API_KEYS_FILE for a flag naming a file). */
  readonly env?: string;
}

type Common<T> = { metavar: string; help: string; parse: (raw: string) => T; hidden?: boolean; env?: string };

export const flag = {
  withDefault<T>(spec: Common<T> & { default: T; defaultText?: string }): FlagSpec<T> {
    const text = spec.defaultText ?? String(spec.default);
    return { ...spec, hidden: spec.hidden ?? false, fallback: { kind: "default", value: spec.default, text } };
  },
  required<T>(spec: Common<T>): FlagSpec<T> {
    return { ...spec, hidden: spec.hidden ?? false, fallback: { kind: "required" } };
  },
  /** `note` replaces "optional" in help, e.g. when one of two flags is required. */
  optional<T>(spec: Common<T> & { note?: string }): FlagSpec<T | undefined> {
    return { ...spec, hidden: spec.hidden ?? false, fallback: { kind: "optional", text: spec.note ?? "optional" } };
  },
  /** An on/off switch: `--name` on the command line, or `SHARDMAX_NAME=1|true|0|false`. */
  switch(spec: { help: string; hidden?: boolean }): FlagSpec<boolean> {
    return { metavar: "", help: spec.help, parse: parseSwitch, hidden: spec.hidden ?? false, fallback: { kind: "default", value: false, text: "off" } };
  },
};

export type FlagTable = Record<string, FlagSpec<unknown>>;
export type FlagValues<F extends FlagTable> = { readonly [K in keyof F]: F[K] extends FlagSpec<infer T> ? T : never };
export type FlagSource = "flag" | "env" | "default";

export interface Parsed<F extends FlagTable> {
  values: FlagValues<F>;
  /** Where each value came from, for rules across flags (e.g. exactly one of two). */
  sources: { readonly [K in keyof F]: FlagSource };
  help: boolean;
}

export function envName(flagName: string): string {
  return `SHARDMAX_${flagName.toUpperCase().replace(/-/g, "_")}`;
}

const isSwitch = (spec: FlagSpec<unknown>) => spec.metavar === "";

export function parseFlags<F extends FlagTable>(table: F, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed<F> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(table)) options[name] = { type: isSwitch(spec) ? "boolean" : "string" };
  let given: Record<string, string | boolean | undefined>;
  try {
    given = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as typeof given;
  } catch (err) {
    throw new UsageError(describeParseArgsError(err));
  }
  if (given.help) return { values: {} as FlagValues<F>, sources: {} as Parsed<F>["sources"], help: true };

  const values: Record<string, unknown> = {};
  const sources: Record<string, FlagSource> = {};
  for (const [name, spec] of Object.entries(table)) {
    const fromFlag = given[name];
    const variable = spec.env ?? envName(name);
    const fromEnv = env[variable];
    if (fromFlag !== undefined) {
      const raw = typeof fromFlag === "boolean" ? "true" : fromFlag;
      values[name] = parseValue(spec, raw, `--${name} ${JSON.stringify(raw)}`);
      sources[name] = "flag";
    } else if (fromEnv !== undefined && fromEnv !== "") {
      values[name] = parseValue(spec, fromEnv, `${variable}=${JSON.stringify(fromEnv)} (for --${name})`);
      sources[name] = "env";
    } else if (spec.fallback.kind === "required") {
      throw new UsageError(`missing --${name} ${spec.metavar} (or set ${variable})`);
    } else {
      values[name] = spec.fallback.kind === "default" ? spec.fallback.value : undefined;
      sources[name] = "default";
    }
  }
  return { values: Object.freeze(values) as FlagValues<F>, sources: sources as Parsed<F>["sources"], help: false };
}

function parseValue(spec: FlagSpec<unknown>, raw: string, where: string): unknown {
  try {
    return spec.parse(raw);
  } catch (err) {
    if (err instanceof ValueError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

function parseSwitch(raw: string): boolean {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ValueError("expected 1/true/yes/on or 0/false/no/off");
}

/** parseArgs' messages are multi-line and generic; keep the flag, drop the rest. */
function describeParseArgsError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const flagName = quoted.split(/[ ,]/).find((part) => part.startsWith("--")) ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${quoted}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(quoted)}; this command takes only flags`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (message.includes("does not take an argument")) return `${flagName} is a switch and takes no value`;
      if (message.includes("ambiguous")) return `${flagName} needs a value; for a value starting with '-' write ${flagName}=VALUE`;
      return `${flagName} needs a value`;
    default:
      return message.split("\n")[0]!;
  }
}

/** Usage text: every visible flag with its value form, env var and default. */
export function formatHelp(usage: string, summary: string, table: FlagTable): string {
  const visible = Object.entries(table).filter(([, spec]) => !spec.hidden);
  const heads = visible.map(([name, spec]) => `--${name}${spec.metavar ? ` ${spec.metavar}` : ""}`);
  const width = Math.max(...heads.map((h) => h.length), "-h, --help".length) + 2;
  const lines = [`Usage: ${usage}`, "", summary, "", "Flags:"];
  visible.forEach(([name, spec], i) => {
    const fallback = spec.fallback.kind === "default" ? `default ${spec.fallback.text}` : spec.fallback.kind === "required" ? "required" : spec.fallback.text;
    lines.push(`  ${heads[i]!.padEnd(width)}${spec.help}`);
    lines.push(`  ${"".padEnd(width)}env ${spec.env ?? envName(name)}; ${fallback}`);
  });
  lines.push(`  ${"-h, --help".padEnd(width)}print this help`);
  lines.push("", "A flag given on the command line wins over its environment variable.");
  return `${lines.join("\n")}\n`;
}
