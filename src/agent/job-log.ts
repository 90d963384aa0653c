/** A JobLog written to a pino child logger (the durable OTLP log shipper replaces it later). */
import type { Logger } from "pino";
import type { JobLog, LogFields } from "../jobs/handler.ts";

/** Wraps a pino logger (usually a child with job fields) as a JobLog; `line()` logs at info with the stream. */
export function pinoJobLog(logger: Logger): JobLog {
  const at =
    (level: "info" | "warn" | "error" | "debug") =>
    (msg: string, fields?: LogFields): void => {
      if (fields === undefined) logger[level](msg);
      else logger[level](fields, msg);
    };
  return {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line(text, stream) {
      logger.info({ stream }, text);
    },
  };
}
