/**
 * The durable JobLog: every message and output line becomes a redacted record in the execution's spool
 * (spool.ts), which the shipper (shipper.ts) sends to the job's log stream. Appending never waits on the
 * network; `close()` seals the spool and waits (bounded) until the shipper has delivered it.
 *
 * Redaction is per record with `redactor.redact()`: lines reach `line()` whole (the line splitter joined the
 * chunks, so a token split across two writes of a process is one line here), and a multi-line secret (a PEM
 * key) is registered line by line among its forms (redact-forms.ts), so each of its lines is caught on its own.
 * A streaming redactor would hold back the end of a line that might start a secret, which breaks the
 * one-line-one-record mapping and delays the line, for no secret per-line redaction misses.
 */
import type { Logger } from "pino";
import type { Execution, Job } from "../control-plane/schemas.ts";
import type { JobLog, LogFields } from "../jobs/handler.ts";
import type { FieldValue, LogLevel } from "./otlp-records.ts";
import { LOG_LEVEL_RANK } from "./otlp-records.ts";
import type { Redactor } from "./redact.ts";
import type { Shipper } from "./shipper.ts";
import { Spool, type SpoolOptions, spoolDir } from "./spool.ts";

/** Defaults of the job log. */
export const JOB_LOG_DEFAULTS = {
  /** Records below this level are not kept. */
  level: "info",
  /** A message longer than this (UTF-16 units) is cut, saying how much was cut: 64 Ki. */
  maxMessageChars: 64 * 1024,
  /** How long `close()` waits for the shipper to deliver the rest, in ms. */
  flushTimeoutMs: 10_000,
} as const;

/** Options of `createJobLog`. */
export interface JobLogOptions {
  job: Pick<Job, "id" | "type" | "log_stream_id">;
  execution: Pick<Execution, "id">;
  /** The pipeline step running now (`runner_job_execution_step.name`). */
  stepName: () => string;
  spool: Spool;
  redactor: Redactor;
  /** The runner's own logger (problems of the job log itself, never the job's records). */
  logger: Logger;
  /** Ships the spool; when absent the records wait on disk for `resumePending` (the next start). */
  shipper?: Shipper;
  /** Default "info" (settings `logging_level`). */
  level?: LogLevel;
  maxMessageChars?: number;
  flushTimeoutMs?: number;
  /** Also writes every record (redacted) to this logger: the job's messages at their level, process output
   * lines at debug. */
  echo?: Logger;
  /** Clock, epoch ms; default Date.now. */
  nowMs?: () => number;
}

/** A JobLog that can be closed at the end of the job. */
export type DurableJobLog = JobLog & {
  /** Seals the spool and waits up to `flushTimeoutMs` until the shipper delivered everything. Idempotent. */
  close(): Promise<void>;
  readonly spool: Spool;
};

/** Creates the durable job log over an existing spool. */
export function createJobLog(opts: JobLogOptions): DurableJobLog {
  const threshold = LOG_LEVEL_RANK[opts.level ?? JOB_LOG_DEFAULTS.level];
  const maxChars = opts.maxMessageChars ?? JOB_LOG_DEFAULTS.maxMessageChars;
  const now = opts.nowMs ?? Date.now;
  const { spool, redactor } = opts;
  let closed: Promise<void> | undefined;
  let warnedClosed = false;

  const clip = (text: string): string =>
    text.length <= maxChars ? text : `${text.slice(0, maxChars)}… (${text.length - maxChars} characters cut)`;

  const write = (level: LogLevel, text: string, stream?: "stdout" | "stderr", fields?: LogFields): void => {
    if (LOG_LEVEL_RANK[level] < threshold) return;
    const msg = clip(redactor.redact(text).text);
    const flat = fields === undefined ? undefined : flattenFields(redactor.redactValue(fields));
    const seq = spool.appendRecord(now(), level, opts.stepName(), stream, msg, flat);
    if (seq === 0 && !warnedClosed) {
      warnedClosed = true;
      opts.logger.warn(
        { executionId: opts.execution.id },
        "a job wrote to its log after the log was closed; the line is not shipped",
      );
    }
    if (opts.echo !== undefined) {
      // Process output is echoed at debug (it can be hundreds of MB); the job's own messages at their level.
      // The level is checked first: a line that is not echoed allocates nothing.
      const echoLevel = stream === undefined ? level : "debug";
      if (!opts.echo.isLevelEnabled(echoLevel)) return;
      opts.echo[echoLevel]({ ...(stream === undefined ? {} : { stream }), ...flat }, msg);
    }
  };

  return {
    spool,
    info: (msg, fields) => write("info", msg, undefined, fields),
    warn: (msg, fields) => write("warn", msg, undefined, fields),
    error: (msg, fields) => write("error", msg, undefined, fields),
    debug: (msg, fields) => write("debug", msg, undefined, fields),
    line: (text, stream) => write("info", text, stream),
    close() {
      closed ??= (async () => {
        spool.seal();
        if (opts.shipper === undefined || !spool.meta.ship) return;
        const flushTimeoutMs = opts.flushTimeoutMs ?? JOB_LOG_DEFAULTS.flushTimeoutMs;
        const delivered = await opts.shipper.flush(spool, flushTimeoutMs);
        if (!delivered) {
          opts.logger.warn(
            {
              executionId: opts.execution.id,
              unshipped: spool.lastSeq - spool.ackedSeq,
              flushTimeoutMs,
            },
            "the job's logs were not all delivered by the end of the job; the spool keeps them and shipping goes on",
          );
        }
      })();
      return closed;
    },
  };
}

/** Options of `openJobLog`: a spool is created under `stateDir` and handed to the shipper. */
export interface OpenJobLogOptions extends Omit<JobLogOptions, "spool"> {
  stateDir: string;
  /** Settings `enable_logging`: false keeps the records on local disk only. Default true. */
  enableLogging?: boolean;
  /** Spool options (`maxBytes` = config logSpoolMaxBytes). */
  spoolOptions?: SpoolOptions;
}

/**
 * The factory the job runner uses: creates `<stateDir>/spool/<executionId>/`, hands it to the shipper (which
 * ships it unless `enable_logging` is off or the job has no log stream) and returns the job log over it.
 */
export function openJobLog(opts: OpenJobLogOptions): DurableJobLog {
  const spool = Spool.create(
    spoolDir(opts.stateDir, opts.execution.id),
    {
      jobId: opts.job.id,
      jobType: opts.job.type ?? "",
      logStreamId: opts.job.log_stream_id ?? "",
      executionId: opts.execution.id,
      ship: (opts.enableLogging ?? true) && (opts.job.log_stream_id ?? "") !== "",
    },
    {
      ...opts.spoolOptions,
      onError: (err) =>
        opts.logger.error(
          { err, executionId: opts.execution.id },
          "the job log spool hit an error; records it could not write are shipped as a dropped range",
        ),
    },
  );
  opts.shipper?.ship(spool);
  return createJobLog({ ...opts, spool });
}

/** Settings `logging_level` ("DEBUG", "INFO", "WARN"/"WARNING", "ERROR", any case) as a level; default "info". */
export function parseLogLevel(text: string | undefined): LogLevel {
  const value = (text ?? "").trim().toLowerCase();
  if (value === "debug" || value === "info" || value === "error") return value;
  if (value === "warn" || value === "warning") return "warn";
  return JOB_LOG_DEFAULTS.level;
}

/** Message fields as record attributes: primitives kept, null/undefined left out, anything else as JSON. */
export function flattenFields(value: unknown): Record<string, FieldValue> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const out: Record<string, FieldValue> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (typeof v === "string" || typeof v === "boolean") out[key] = v;
    else if (typeof v === "number") out[key] = Number.isFinite(v) ? v : String(v);
    else if (typeof v === "bigint") out[key] = v.toString();
    else out[key] = JSON.stringify(v) ?? String(v);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
