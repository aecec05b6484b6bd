/**
 * One-line logs on stderr: `time level role message key=value…`. Human-readable
 * for `npm start`, grep-able in a pod's log; stdout stays free for a command's
 * own output.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(role: string): Logger;
}

function format(fields: LogFields | undefined): string {
  if (!fields) return "";
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${typeof v === "string" && /\s/.test(v) ? JSON.stringify(v) : v}`)
    .join("");
}

export function createLogger(role: string, write: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const emit = (level: string) => (message: string, fields?: LogFields) =>
    write(`${new Date().toISOString()} ${level} ${role} ${message}${format(fields)}`);
  return { info: emit("info"), warn: emit("warn"), error: emit("error"), child: (sub) => createLogger(`${role}/${sub}`, write) };
}

/** For tests and embedding: a logger that drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };
