/**
 * Log lines on stderr, one per event. Two formats: `text` (`time level role
 * message key=value…`, for `npm start` and a terminal) and `json` (one JSON
 * object per line: time, level, role, msg and the fields, for a pod's log
 * pipeline). Lines below the level are dropped. stdout stays free for a
 * command's own output.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(role: string): Logger;
}

export const LOG_LEVELS = ["info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  format?: LogFormat;
  /** The lowest level written; default info. */
  level?: LogLevel;
}

function format(fields: LogFields | undefined): string {
  if (!fields) return "";
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${typeof v === "string" && /\s/.test(v) ? JSON.stringify(v) : v}`)
    .join("");
}

function line(options: LogOptions, level: LogLevel, role: string, message: string, fields: LogFields | undefined): string {
  const time = new Date().toISOString();
  if (options.format !== "json") return `${time} ${level} ${role} ${message}${format(fields)}`;
  // The event's own keys come first, so a field can never overwrite them.
  return JSON.stringify({ ...fields, time, level, role, msg: message });
}

export function createLogger(role: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), options: LogOptions = {}): Logger {
  const lowest = LOG_LEVELS.indexOf(options.level ?? "info");
  const emit = (level: LogLevel) =>
    LOG_LEVELS.indexOf(level) < lowest ? () => {} : (message: string, fields?: LogFields) => write(line(options, level, role, message, fields));
  return { info: emit("info"), warn: emit("warn"), error: emit("error"), child: (sub) => createLogger(`${role}/${sub}`, write, options) };
}

/** For tests and embedding: a logger that drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };
