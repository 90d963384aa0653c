/** Loggers for unit tests: silent, or recording parsed JSON lines so tests can assert on fields. */
import { Writable } from "node:stream";
import { type Logger, pino } from "pino";
import type { JobLog } from "../../../src/jobs/handler.ts";

/** A logger that drops everything. */
export function silentLog(): Logger {
  return pino({ level: "silent" });
}

/** A logger whose lines land in `lines` as parsed objects. */
export function recordingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

/** A JobLog that records messages. */
export function recordingJobLog(): JobLog & { messages: string[] } {
  const messages: string[] = [];
  const at = (level: string) => (msg: string) => {
    messages.push(`${level}: ${msg}`);
  };
  return {
    messages,
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line: (text, stream) => {
      messages.push(`${stream}: ${text}`);
    },
  };
}
