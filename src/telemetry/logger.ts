/**
 * The ONE pino root logger of a runner process (callers make a `.child` per job). JSON by default;
 * pino-pretty as an in-process stream when asked or on a TTY, imported only then (it costs ~4 MB of RSS in a
 * runner that logs JSON). Secrets are removed twice: pino's `redact`
 * paths blank known secret fields, and `opts.redact` scrubs known secret values from every line.
 */
import { hostname } from "node:os";
import pino, { type DestinationStream } from "pino";
import { type LogFormat, normalizeLogLevel } from "../config/schema.ts";

/** The runner's logger type (pino's). */
export type Logger = pino.Logger;

/** Options for `createLogger`. */
export interface CreateLoggerOptions {
  /** Level name; Nuon names accepted ("INFO", "WARN"). */
  level: string;
  /** `json`, `pretty`, or `auto` (pretty when the destination is a TTY). */
  format: LogFormat;
  /** Where lines go. Default process stdout (fd 1, synchronous). */
  destination?: NodeJS.WritableStream;
  /** Scrubs secret values from text, e.g. the API token; applied to messages and to each whole line. */
  redact?: (text: string) => string;
  /** Fields on every line, e.g. `{ runnerId }`. Default `{ pid, hostname }`. */
  base?: Record<string, unknown>;
}

/** Field paths whose values are always replaced by `REDACTED`. */
export const REDACT_PATHS: readonly string[] = [
  "token",
  "apiToken",
  "authorization",
  "*.token",
  "*.apiToken",
  "*.authorization",
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
];

/** What a redacted field's value becomes. */
export const REDACTED = "[redacted]";

/** Creates the root logger; rejects with a RangeError on an unknown level. */
export async function createLogger(opts: CreateLoggerOptions): Promise<Logger> {
  const level = normalizeLogLevel(opts.level);
  if (level === undefined) throw new RangeError(`unknown log level "${opts.level}"`);
  const redact = opts.redact;
  const target = opts.destination ?? process.stdout;
  const isTty = (target as { isTTY?: unknown }).isTTY === true;
  const usePretty = opts.format === "pretty" || (opts.format === "auto" && isTty);

  let stream: DestinationStream | undefined = opts.destination;
  if (usePretty) {
    const { default: pretty } = await import("pino-pretty");
    stream = pretty({
      // Without a destination pino-pretty writes to fd 1 synchronously, so nothing is lost at exit.
      ...(opts.destination === undefined
        ? { destination: 1, sync: true }
        : { destination: opts.destination }),
      colorize: isTty,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
    });
  }

  return pino(
    {
      level,
      base: { pid: process.pid, hostname: hostname(), ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      hooks:
        redact === undefined
          ? {}
          : {
              logMethod(args, method) {
                const scrubbed = args.map((arg) => (typeof arg === "string" ? redact(arg) : arg));
                // `log.error(err)` takes its message from the error; give it a scrubbed one explicitly.
                const [first, second] = scrubbed;
                if (first instanceof Error && typeof second !== "string") {
                  scrubbed.splice(0, 1, { err: first }, redact(first.message));
                }
                method.apply(this, scrubbed as Parameters<typeof method>);
              },
              streamWrite: (line) => redact(line),
            },
    },
    stream ?? pino.destination({ dest: 1, sync: true }),
  );
}
