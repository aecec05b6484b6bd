/**
 * The flags every serving command shares for being watched: log level and
 * format, and where traces go. Spread into a command's flag table; the
 * logger is built from them at the edge.
 */
import { createLogger, LOG_FORMATS, LOG_LEVELS, type Logger } from "../../shared/log.js";
import { flag } from "./flags.js";
import { httpUrl, oneOf } from "./values.js";

export const OBSERVABILITY_FLAGS = {
  "log-level": flag.withDefault({
    metavar: LOG_LEVELS.join("|"),
    help: "lowest level of log line written",
    parse: oneOf(LOG_LEVELS),
    default: "info" as (typeof LOG_LEVELS)[number],
  }),
  "log-format": flag.withDefault({
    metavar: LOG_FORMATS.join("|"),
    help: "log lines as text (key=value) or one JSON object per line",
    parse: oneOf(LOG_FORMATS),
    default: "text" as (typeof LOG_FORMATS)[number],
  }),
  "otlp-endpoint": flag.optional({
    metavar: "URL",
    help: "send OpenTelemetry traces (OTLP/HTTP JSON) to this URL, e.g. http://otel-collector:4318/v1/traces; unset: no tracing",
    parse: httpUrl,
  }),
};

type Values = { "log-level": (typeof LOG_LEVELS)[number]; "log-format": (typeof LOG_FORMATS)[number] };

export function loggerFrom(values: Values, role: string, write: (line: string) => void): Logger {
  return createLogger(role, write, { level: values["log-level"], format: values["log-format"] });
}
