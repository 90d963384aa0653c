/** A JobLog that passes every message, field and output line through a redactor first. */
import type { Redactor } from "../../logs/redact.ts";
import type { JobLog, LogFields } from "../handler.ts";

/** Wraps `log` so that no registered secret reaches it (secrets added later apply from then on). */
export function redactingLog(log: JobLog, redactor: Redactor): JobLog {
  const text = (s: string): string => redactor.redact(s).text;
  const fields = (f: LogFields | undefined): LogFields | undefined =>
    f === undefined ? undefined : (redactor.redactValue(f) as LogFields);
  return {
    info: (msg, f) => log.info(text(msg), fields(f)),
    warn: (msg, f) => log.warn(text(msg), fields(f)),
    error: (msg, f) => log.error(text(msg), fields(f)),
    debug: (msg, f) => log.debug(text(msg), fields(f)),
    line: (line, stream) => log.line(text(line), stream),
  };
}
