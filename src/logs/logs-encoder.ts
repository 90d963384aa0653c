/**
 * The request encoder over spool frames (frames.ts): an ExportLogsServiceRequest whose resource and scope are
 * encoded once per resource, and whose records are the frames' bytes, each behind a LogRecord header and followed
 * by the execution's constant attributes (encoded once per execution). Byte for byte what
 * `encodeLogsRequest(buildLogsRequest(…))` produces.
 */
import { type BatchPart, FrameWriter, isGapPart, SEVERITY_BYTES, walkFrames } from "./frames.ts";
import {
  gapMessage,
  isGap,
  type ResourceInfo,
  SCOPE_NAME,
  type SpoolGap,
  type SpoolItem,
  type StreamContext,
} from "./otlp-records.ts";
import { I64, LEN, ProtoWriter, putVarint, varintSize } from "./proto-writer.ts";

interface ResourceEntry {
  /** ResourceLogs.resource (tag included). */
  resource: Buffer;
  /** ScopeLogs.scope (tag included). */
  scope: Buffer;
  /** ResourceLogs.schema_url (tag included), or empty. */
  schemaUrl: Buffer;
}

const resourceCache = new WeakMap<ResourceInfo, ResourceEntry>();
const contextCache = new WeakMap<StreamContext, Buffer>();

function resourceEntry(resource: ResourceInfo): ResourceEntry {
  let entry = resourceCache.get(resource);
  if (entry === undefined) {
    const r = new ProtoWriter(1024);
    r.tag(1, LEN);
    const start = r.begin();
    for (const [key, value] of Object.entries(resource.attributes)) r.attr(key, value, 1);
    r.end(start);
    const s = new ProtoWriter(256);
    s.tag(1, LEN);
    const scope = s.begin();
    s.string(1, SCOPE_NAME);
    if (resource.scopeVersion !== undefined) s.string(2, resource.scopeVersion);
    s.end(scope);
    const u = new ProtoWriter(256);
    if (resource.schemaUrl !== undefined) u.string(3, resource.schemaUrl);
    entry = { resource: r.copy(), scope: s.copy(), schemaUrl: u.copy() };
    resourceCache.set(resource, entry);
  }
  return entry;
}

/** The execution's constant record attributes, encoded once. */
function contextBytes(ctx: StreamContext): Buffer {
  let bytes = contextCache.get(ctx);
  if (bytes === undefined) {
    const w = new ProtoWriter(512);
    w.attr("runner_job.id", ctx.jobId);
    w.attr("runner_job.type", ctx.jobType);
    w.attr("log_stream.id", ctx.logStreamId);
    w.attr("runner_job_execution.id", ctx.executionId);
    bytes = w.copy();
    contextCache.set(ctx, bytes);
  }
  return bytes;
}

/** A drop marker's LogRecord body (without the constant attributes). */
function gapRecord(gap: SpoolGap): Buffer {
  const w = new ProtoWriter(256);
  w.tag(1, I64);
  w.ensure(8);
  w.pos = w.buf.writeBigUInt64LE(BigInt(gap.time) * 1_000_000n, w.pos);
  w.raw(SEVERITY_BYTES.warn);
  w.tag(5, LEN);
  const body = w.begin();
  w.string(1, gapMessage(gap));
  w.end(body);
  w.attr("runner.log.dropped_from_seq", gap.fromSeq);
  w.attr("runner.log.dropped_to_seq", gap.toSeq);
  w.attr("runner.log.dropped_records", gap.records);
  w.attr("runner.log.dropped_bytes", gap.bytes);
  return w.copy();
}

/** An encoder that reuses one buffer: the bytes `encode` returns are valid until its next call. */
export interface LogsEncoder {
  /** Encodes a batch of one execution as an ExportLogsServiceRequest. */
  encode(resource: ResourceInfo, ctx: StreamContext, parts: readonly BatchPart[]): Uint8Array;
}

/** Creates a LogsEncoder (one per sender that has a single request in flight). */
export function createLogsEncoder(): LogsEncoder {
  let out = Buffer.allocUnsafe(64 * 1024);
  return {
    encode(resource, ctx, parts) {
      const entry = resourceEntry(resource);
      const constant = contextBytes(ctx);
      const c = constant.length;
      const gaps = new Map<SpoolGap, Buffer>();
      let records = 0;
      for (const part of parts) {
        if (isGapPart(part)) {
          const body = gapRecord(part);
          gaps.set(part, body);
          records += 1 + varintSize(body.length + c) + body.length + c;
          continue;
        }
        walkFrames(part.buf, part.start, part.end, part.count, Number.POSITIVE_INFINITY, 0, (s, e) => {
          records += 1 + varintSize(e - s + c) + (e - s) + c;
        });
      }
      const scopeLogs = entry.scope.length + records;
      const resourceLogs =
        entry.resource.length + 1 + varintSize(scopeLogs) + scopeLogs + entry.schemaUrl.length;
      const total = 1 + varintSize(resourceLogs) + resourceLogs;
      if (out.length < total) out = Buffer.allocUnsafe(Math.max(total, out.length * 2));
      const buf = out;
      let pos = 0;
      buf[pos++] = 0x0a;
      pos = putVarint(buf, pos, resourceLogs);
      pos += entry.resource.copy(buf, pos);
      buf[pos++] = 0x12;
      pos = putVarint(buf, pos, scopeLogs);
      pos += entry.scope.copy(buf, pos);
      for (const part of parts) {
        if (isGapPart(part)) {
          const body = gaps.get(part)!;
          buf[pos++] = 0x12;
          pos = putVarint(buf, pos, body.length + c);
          buf.set(body, pos);
          pos += body.length;
          buf.set(constant, pos);
          pos += c;
          continue;
        }
        const src = part.buf;
        walkFrames(src, part.start, part.end, part.count, Number.POSITIVE_INFINITY, 0, (s, e) => {
          buf[pos++] = 0x12;
          pos = putVarint(buf, pos, e - s + c);
          buf.set(src.subarray(s, e), pos);
          pos += e - s;
          buf.set(constant, pos);
          pos += c;
        });
      }
      pos += entry.schemaUrl.copy(buf, pos);
      return buf.subarray(0, pos);
    },
  };
}

/**
 * Encodes spool items (records and drop markers) as OTLP protobuf bytes, the body of
 * `POST /v1/log-streams/{id}/logs`: frames them, then encodes the frames as the shipper does.
 */
export function encodeLogsBatch(resource: ResourceInfo, ctx: StreamContext, items: SpoolItem[]): Uint8Array {
  const frames = new FrameWriter();
  const parts: BatchPart[] = [];
  let run: { start: number; count: number; firstSeq: number } | undefined;
  const closeRun = () => {
    if (run !== undefined) parts.push({ buf: Buffer.alloc(0), end: frames.length, ...run });
    run = undefined;
  };
  for (const item of items) {
    if (isGap(item)) {
      closeRun();
      parts.push(item);
      continue;
    }
    run ??= { start: frames.length, count: 0, firstSeq: item.seq };
    frames.record(item.seq, item.time, item.level, item.step, item.stream, item.msg, item.fields);
    run.count++;
  }
  closeRun();
  const buf = frames.bytes;
  for (const part of parts) if (!isGapPart(part)) part.buf = buf;
  return Buffer.from(createLogsEncoder().encode(resource, ctx, parts));
}
