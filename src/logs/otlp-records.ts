/**
 * Spool records → OTLP: the record shape the spool stores, and its mapping onto an ExportLogsServiceRequest
 * (PROTOCOL.md §3 "Logs"): resource = settings metadata + `service.name=runner` + `runner.id` + `runner.version`;
 * scope `runner.job`; record attributes `runner_job.id`, `runner_job.type`, `log_stream.id`,
 * `runner_job_execution.id`, `runner_job_execution_step.name`, `stream`, and `runner.log.seq` so a receiver can
 * see gaps. A dropped range becomes one WARN marker record carrying the range instead of a sequence number.
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
        ...base,
        { key: "runner.log.dropped_from_seq", value: { intValue: BigInt(item.fromSeq) } },
        { key: "runner.log.dropped_to_seq", value: { intValue: BigInt(item.toSeq) } },
        { key: "runner.log.dropped_records", value: { intValue: BigInt(item.records) } },
        { key: "runner.log.dropped_bytes", value: { intValue: BigInt(item.bytes) } },
      ],
    };
  }
  const attributes: KeyValue[] = [];
  if (item.fields !== undefined) {
    for (const [key, value] of Object.entries(item.fields)) {
      if (!RESERVED.has(key)) attributes.push({ key, value: fieldValue(value) });
    }
  }
  attributes.push(...base, { key: "runner_job_execution_step.name", value: str(item.step) });
  if (item.stream !== undefined) attributes.push({ key: "stream", value: str(item.stream) });
  attributes.push({ key: "runner.log.seq", value: { intValue: BigInt(item.seq) } });
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
const RESERVED: ReadonlySet<string> = new Set([
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

/**
 * Encodes a batch as OTLP protobuf bytes (the body of `POST /v1/log-streams/{id}/logs`): byte for byte what
 * `encodeLogsRequest(buildLogsRequest(…))` produces, written directly into one buffer. The resource, the scope
 * and the execution's constant attributes are encoded once and reused, so a record costs about a microsecond
 * instead of the ten a generic protobuf encoder spends on it.
 */
export function encodeLogsBatch(resource: ResourceInfo, ctx: StreamContext, items: SpoolItem[]): Uint8Array {
  return writeBatch(new ProtoWriter(estimateBytes(items)), resource, ctx, items);
}

/** An encoder that reuses one buffer: the bytes `encode` returns are valid until its next call. */
export interface LogsEncoder {
  encode(resource: ResourceInfo, ctx: StreamContext, items: SpoolItem[]): Uint8Array;
}

/** Creates a LogsEncoder (one per sender that has a single request in flight). */
export function createLogsEncoder(): LogsEncoder {
  const w = new ProtoWriter(64 * 1024);
  return {
    encode(resource, ctx, items) {
      w.reset(estimateBytes(items));
      return writeBatch(w, resource, ctx, items);
    },
  };
}

function estimateBytes(items: SpoolItem[]): number {
  let estimate = 4096;
  for (const item of items) estimate += isGap(item) ? 512 : 384 + item.msg.length * 1.25;
  return Math.ceil(estimate);
}

function writeBatch(
  w: ProtoWriter,
  resource: ResourceInfo,
  ctx: StreamContext,
  items: SpoolItem[],
): Uint8Array {
  const constant = contextBytes(ctx);
  w.tag(1, LEN);
  const resourceLogs = w.begin();
  w.raw(resourceBytes(resource));
  w.tag(2, LEN);
  const scopeLogs = w.begin();
  w.raw(scopeBytes(resource));
  for (const item of items) {
    w.tag(2, LEN);
    const record = w.begin();
    writeRecord(w, constant, item);
    w.end(record);
  }
  w.end(scopeLogs);
  if (resource.schemaUrl !== undefined) w.string(3, resource.schemaUrl);
  w.end(resourceLogs);
  return w.finish();
}

const LEN = 2;
const VARINT = 0;
const I64 = 1;

function writeRecord(w: ProtoWriter, constant: Buffer, item: SpoolItem): void {
  w.tag(1, I64);
  w.fixed64Ms(item.time);
  if (isGap(item)) {
    w.tag(2, VARINT);
    w.varint(SEVERITY.warn.number);
    w.string(3, SEVERITY.warn.text);
    w.anyString(5, gapMessage(item));
    w.raw(constant);
    w.intAttr("runner.log.dropped_from_seq", item.fromSeq);
    w.intAttr("runner.log.dropped_to_seq", item.toSeq);
    w.intAttr("runner.log.dropped_records", item.records);
    w.intAttr("runner.log.dropped_bytes", item.bytes);
    return;
  }
  const severity = SEVERITY[item.level] ?? SEVERITY.info;
  w.tag(2, VARINT);
  w.varint(severity.number);
  w.string(3, severity.text);
  w.anyString(5, item.msg);
  if (item.fields !== undefined) {
    for (const [key, value] of Object.entries(item.fields)) {
      if (!RESERVED.has(key)) w.attr(key, fieldValue(value));
    }
  }
  w.raw(constant);
  w.attr("runner_job_execution_step.name", str(item.step));
  if (item.stream !== undefined) w.attr("stream", str(item.stream));
  w.intAttr("runner.log.seq", item.seq);
}

const resourceCache = new WeakMap<ResourceInfo, { resource: Buffer; scope: Buffer }>();
const contextCache = new WeakMap<StreamContext, Buffer>();

function resourceEntry(resource: ResourceInfo): { resource: Buffer; scope: Buffer } {
  let entry = resourceCache.get(resource);
  if (entry === undefined) {
    const r = new ProtoWriter(1024);
    r.tag(1, LEN);
    const start = r.begin();
    for (const [key, value] of Object.entries(resource.attributes)) r.attr(key, str(value), 1);
    r.end(start);
    const s = new ProtoWriter(256);
    s.tag(1, LEN);
    const scope = s.begin();
    s.string(1, SCOPE_NAME);
    if (resource.scopeVersion !== undefined) s.string(2, resource.scopeVersion);
    s.end(scope);
    entry = { resource: Buffer.from(r.finish()), scope: Buffer.from(s.finish()) };
    resourceCache.set(resource, entry);
  }
  return entry;
}

const resourceBytes = (resource: ResourceInfo) => resourceEntry(resource).resource;
const scopeBytes = (resource: ResourceInfo) => resourceEntry(resource).scope;

function contextBytes(ctx: StreamContext): Buffer {
  let bytes = contextCache.get(ctx);
  if (bytes === undefined) {
    const w = new ProtoWriter(512);
    w.attr("runner_job.id", str(ctx.jobId));
    w.attr("runner_job.type", str(ctx.jobType));
    w.attr("log_stream.id", str(ctx.logStreamId));
    w.attr("runner_job_execution.id", str(ctx.executionId));
    bytes = Buffer.from(w.finish());
    contextCache.set(ctx, bytes);
  }
  return bytes;
}

/**
 * A minimal protobuf writer over one growing buffer. Length-delimited fields reserve one byte for their
 * length and shift their contents when the length needs more (canonical, minimal varints throughout).
 */
class ProtoWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(size: number) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  /** Starts over, keeping the buffer (grown to `size` when smaller). */
  reset(size: number): void {
    this.#pos = 0;
    if (this.#buf.length < size) this.#buf = Buffer.allocUnsafe(size);
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + extra));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.#ensure(10);
    let v = value;
    while (v > 127) {
      this.#buf[this.#pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
  }

  /** Any int64, as protobuf's two's-complement varint. */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.#ensure(10);
    while (v > 127n) {
      this.#buf[this.#pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    this.#buf[this.#pos++] = Number(v);
  }

  /** Epoch milliseconds as fixed64 nanoseconds. */
  fixed64Ms(ms: number): void {
    this.#ensure(8);
    this.#buf.writeBigUInt64LE(BigInt(ms) * 1_000_000n, this.#pos);
    this.#pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Reserves one byte for a length; returns the position to pass to `end`. */
  begin(): number {
    this.#ensure(1);
    return this.#pos++;
  }

  /** Writes the length of what followed `begin`, shifting it when the length takes more than one byte. */
  end(start: number): void {
    const length = this.#pos - start - 1;
    let size = 1;
    for (let v = length; v > 127; v = Math.floor(v / 128)) size++;
    if (size > 1) {
      this.#ensure(size - 1);
      this.#buf.copyWithin(start + size, start + 1, this.#pos);
      this.#pos += size - 1;
    }
    const end = this.#pos;
    this.#pos = start;
    this.varint(length);
    this.#pos = end;
  }

  string(field: number, value: string): void {
    this.tag(field, LEN);
    const start = this.begin();
    this.#ensure(value.length * 3);
    this.#pos += this.#buf.write(value, this.#pos, "utf8");
    this.end(start);
  }

  /** A field holding an AnyValue with a string. */
  anyString(field: number, value: string): void {
    this.tag(field, LEN);
    const start = this.begin();
    this.string(1, value);
    this.end(start);
  }

  anyValue(field: number, value: AnyValue): void {
    this.tag(field, LEN);
    const start = this.begin();
    if ("stringValue" in value) this.string(1, value.stringValue);
    else if ("boolValue" in value) {
      this.tag(2, VARINT);
      this.varint(value.boolValue ? 1 : 0);
    } else if ("intValue" in value) {
      this.tag(3, VARINT);
      this.int64(Number(value.intValue));
    } else if ("doubleValue" in value) {
      this.tag(4, I64);
      this.#ensure(8);
      this.#buf.writeDoubleLE(value.doubleValue, this.#pos);
      this.#pos += 8;
    } else
      throw new TypeError("encodeLogsBatch: only string, bool, int and double attribute values are written");
    this.end(start);
  }

  /** A KeyValue in `field` (6 in a LogRecord, 1 in a Resource). */
  attr(key: string, value: AnyValue, field = 6): void {
    this.tag(field, LEN);
    const start = this.begin();
    this.string(1, key);
    this.anyValue(2, value);
    this.end(start);
  }

  /** A KeyValue with an int64 value, in a LogRecord. */
  intAttr(key: string, value: number): void {
    this.tag(6, LEN);
    const start = this.begin();
    this.string(1, key);
    this.tag(2, LEN);
    const any = this.begin();
    this.tag(3, VARINT);
    this.int64(value);
    this.end(any);
    this.end(start);
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }
}
