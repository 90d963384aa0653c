/**
 * Spool records → OTLP: the record shape the spool stores, and its mapping onto an ExportLogsServiceRequest
 * (PROTOCOL.md §3 "Logs"): resource = settings metadata + `service.name=runner` + `runner.id` + `runner.version`;
 * scope `runner.job`; record attributes `runner_job.id`, `runner_job.type`, `log_stream.id`,
 * `runner_job_execution.id`, `runner_job_execution_step.name`, `stream`, and `runner.log.seq` so a receiver can
 * see gaps and drop a record it already has. A dropped range becomes one WARN marker record carrying the range
 * instead of a sequence number. `buildLogsRequest` is the reference mapping; the shipper sends the same bytes
 * from the spool's frames (frames.ts), where the execution's constant attributes come last in every record.
 */
import type { AnyValue, KeyValue, LogRecord, LogsRequest } from "../otlp/logs-proto.ts";

/** Severity of a record (the JobLog method that wrote it; process output is `info`). */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Rank of each level, lowest first; a record is kept when its rank is at least the threshold's. */
export const LOG_LEVEL_RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** OTLP SeverityNumber and SeverityText of each level. */
export const SEVERITY: Readonly<Record<LogLevel, { number: number; text: string }>> = {
  debug: { number: 5, text: "DEBUG" },
  info: { number: 9, text: "INFO" },
  warn: { number: 13, text: "WARN" },
  error: { number: 17, text: "ERROR" },
};

/** A field value as stored and shipped (objects are JSON text by then). */
export type FieldValue = string | number | boolean;

/** One log record as the spool stores it (one NDJSON line), already redacted. */
export interface SpoolRecord {
  /** Sequence number within the execution, from 1, contiguous. */
  seq: number;
  /** Epoch milliseconds. */
  time: number;
  level: LogLevel;
  /** The pipeline step running when the record was written. */
  step: string;
  /** Set for process output. */
  stream?: "stdout" | "stderr";
  /** The text (the body). */
  msg: string;
  /** Extra attributes of a message. */
  fields?: Record<string, FieldValue>;
}

/** A range of records the spool dropped because it was full; shipped as one marker record. */
export interface SpoolGap {
  /** First and last dropped sequence number (inclusive). */
  fromSeq: number;
  toSeq: number;
  /** Records and spool bytes dropped. */
  records: number;
  bytes: number;
  /** Epoch milliseconds of the first drop. */
  time: number;
}

/** What the spool reader hands out: a record or a gap marker (`"fromSeq" in item`). */
export type SpoolItem = SpoolRecord | SpoolGap;

/** True for a gap marker. */
export function isGap(item: SpoolItem): item is SpoolGap {
  return "fromSeq" in item;
}

/** The execution a spool belongs to: the constant record attributes. */
export interface StreamContext {
  jobId: string;
  jobType: string;
  logStreamId: string;
  executionId: string;
}

/** The resource every request carries. */
export interface ResourceInfo {
  /** Resource attributes (settings metadata, service.name, runner.id, runner.version). */
  attributes: Record<string, string>;
  /** Scope version (the runner version). */
  scopeVersion?: string;
  /** Schema URL of the resource logs (Nuon sends the runner API URL); default none. */
  schemaUrl?: string;
}

/** Scope name of job log records. */
export const SCOPE_NAME = "runner.job";

/** Builds the resource: settings metadata, then `service.name=runner`, `runner.id`, `runner.version` (these win). */
export function runnerResource(input: {
  metadata?: Record<string, string> | undefined;
  runnerId: string;
  version: string;
  schemaUrl?: string;
}): ResourceInfo {
  return {
    attributes: {
      ...input.metadata,
      "service.name": "runner",
      "runner.id": input.runnerId,
      "runner.version": input.version,
    },
    scopeVersion: input.version,
    ...(input.schemaUrl === undefined ? {} : { schemaUrl: input.schemaUrl }),
  };
}

const str = (value: string): AnyValue => ({ stringValue: value });

function fieldValue(value: FieldValue): AnyValue {
  if (typeof value === "string") return str(value);
  if (typeof value === "boolean") return { boolValue: value };
  return Number.isSafeInteger(value) ? { intValue: BigInt(value) } : { doubleValue: value };
}

/** `… 12345 records (56 MB) dropped …` */
export function gapMessage(gap: SpoolGap): string {
  const mb = gap.bytes / 1e6;
  const size = mb >= 10 ? `${Math.round(mb)} MB` : mb >= 0.1 ? `${mb.toFixed(1)} MB` : `${gap.bytes} bytes`;
  return `… ${gap.records} records (${size}) dropped …`;
}

/** Maps one spool item to an OTLP LogRecord. */
export function toLogRecord(ctx: StreamContext, item: SpoolItem): LogRecord {
  const base: KeyValue[] = [
    { key: "runner_job.id", value: str(ctx.jobId) },
    { key: "runner_job.type", value: str(ctx.jobType) },
    { key: "log_stream.id", value: str(ctx.logStreamId) },
    { key: "runner_job_execution.id", value: str(ctx.executionId) },
  ];
  if (isGap(item)) {
    return {
      timeUnixNano: BigInt(item.time) * 1_000_000n,
      severityNumber: SEVERITY.warn.number,
      severityText: SEVERITY.warn.text,
      body: str(gapMessage(item)),
      attributes: [
        { key: "runner.log.dropped_from_seq", value: { intValue: BigInt(item.fromSeq) } },
        { key: "runner.log.dropped_to_seq", value: { intValue: BigInt(item.toSeq) } },
        { key: "runner.log.dropped_records", value: { intValue: BigInt(item.records) } },
        { key: "runner.log.dropped_bytes", value: { intValue: BigInt(item.bytes) } },
        ...base,
      ],
    };
  }
  const attributes: KeyValue[] = [];
  if (item.fields !== undefined) {
    for (const [key, value] of Object.entries(item.fields)) {
      if (!RESERVED_KEYS.has(key)) attributes.push({ key, value: fieldValue(value) });
    }
  }
  attributes.push({ key: "runner_job_execution_step.name", value: str(item.step) });
  if (item.stream !== undefined) attributes.push({ key: "stream", value: str(item.stream) });
  attributes.push({ key: "runner.log.seq", value: { intValue: BigInt(item.seq) } }, ...base);
  const severity = SEVERITY[item.level] ?? SEVERITY.info;
  return {
    timeUnixNano: BigInt(item.time) * 1_000_000n,
    severityNumber: severity.number,
    severityText: severity.text,
    body: str(item.msg),
    attributes,
  };
}

/** Attribute keys a message's fields may not override. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  "runner_job.id",
  "runner_job.type",
  "log_stream.id",
  "runner_job_execution.id",
  "runner_job_execution_step.name",
  "stream",
  "runner.log.seq",
]);

/** Builds the ExportLogsServiceRequest for a batch of one execution's items. */
export function buildLogsRequest(
  resource: ResourceInfo,
  ctx: StreamContext,
  items: SpoolItem[],
): LogsRequest {
  return {
    resourceLogs: [
      {
        resource: {
          attributes: Object.entries(resource.attributes).map(([key, value]) => ({ key, value: str(value) })),
        },
        scopeLogs: [
          {
            scope: {
              name: SCOPE_NAME,
              ...(resource.scopeVersion === undefined ? {} : { version: resource.scopeVersion }),
            },
            logRecords: items.map((item) => toLogRecord(ctx, item)),
          },
        ],
        ...(resource.schemaUrl === undefined ? {} : { schemaUrl: resource.schemaUrl }),
      },
    ],
  };
}
