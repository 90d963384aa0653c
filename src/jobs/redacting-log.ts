/**
 * A JobLog that scrubs registered secrets (the runner token, plan secrets, sensitive outputs) from every
 * message, field and output line before it reaches the job log.
 */
import type { Redactor } from "../logs/redact.ts";
import type { JobLog, LogFields } from "./handler.ts";

/** Wraps `log` so everything written through it passes `redactor` first. */
export function redactingLog(log: JobLog, redactor: Redactor): JobLog {
  const fields = (f: LogFields | undefined): LogFields | undefined =>
    f === undefined ? undefined : (redactor.redactValue(f) as LogFields);
  const text = (s: string): string => redactor.redact(s).text;
  return {
    info: (msg, f) => log.info(text(msg), fields(f)),
    warn: (msg, f) => log.warn(text(msg), fields(f)),
    error: (msg, f) => log.error(text(msg), fields(f)),
    debug: (msg, f) => log.debug(text(msg), fields(f)),
    line: (line, stream) => log.line(text(line), stream),
  };
}
