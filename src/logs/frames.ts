/**
 * The spool's record format. A record is stored as a frame: a 4-byte little-endian length, then the record's
 * OTLP LogRecord message without the execution's constant attributes: time, severity, body, the message's
 * fields, `runner_job_execution_step.name`, `stream`, `runner.log.seq`. Protobuf lets a message's fields come in
 * any order and a repeated field in pieces, so shipping a record is copying its bytes behind a LogRecord header
 * and appending the constant attributes (`runner_job.id`, `runner_job.type`, `log_stream.id`,
 * `runner_job_execution.id`), encoded once per execution (logs-encoder.ts): nothing is parsed or encoded per
 * record after the append.
 */
import {
  type FieldValue,
  type LogLevel,
  RESERVED_KEYS,
  SEVERITY,
  type SpoolGap,
  type SpoolRecord,
} from "./otlp-records.ts";
import { ProtoWriter, putVarint, VARINT, varintSize } from "./proto-writer.ts";

/** Bytes of a frame's length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Consecutive frames in `buf[start, end)`: `count` records from sequence number `firstSeq`. */
export interface FrameRun {
  buf: Buffer;
  start: number;
  end: number;
  count: number;
  firstSeq: number;
}

/** What a batch holds: runs of frames and drop markers, in sequence order. */
export type BatchPart = FrameRun | SpoolGap;

/** True for a drop marker. */
export const isGapPart = (part: BatchPart): part is SpoolGap => "fromSeq" in part;

/** Encoded once: `KeyValue` bytes (tag included) of a string attribute of a LogRecord. */
function stringAttrBytes(key: string, value: string): Buffer {
  const w = new ProtoWriter(64 + value.length * 3);
  w.attr(key, value);
  return w.copy();
}

/** Severity number and text of each level (LogRecord fields 2 and 3), encoded once. */
export const SEVERITY_BYTES: Readonly<Record<LogLevel, Buffer>> = Object.fromEntries(
  (Object.keys(SEVERITY) as LogLevel[]).map((level) => {
    const w = new ProtoWriter(32);
    w.tag(2, VARINT);
    w.varint(SEVERITY[level].number);
    w.string(3, SEVERITY[level].text);
    return [level, w.copy()];
  }),
) as Record<LogLevel, Buffer>;

const STREAM_BYTES = {
  stdout: stringAttrBytes("stream", "stdout"),
  stderr: stringAttrBytes("stream", "stderr"),
};
/** `runner.log.seq` KeyValue up to its value's varint: tag, length, key, value tag, value length, int tag. */
const SEQ_KEY = Buffer.from("runner.log.seq");

/**
 * Appends records as frames to one growing buffer (the spool's pending writes). `reset` empties it and keeps
 * the memory.
 */
export class FrameWriter {
  readonly #w: ProtoWriter;
  readonly #steps = new Map<string, Buffer>();
  #lastMs = Number.NaN;
  readonly #time = Buffer.alloc(9, 0x09);

  constructor(initialBytes = 64 * 1024) {
    this.#w = new ProtoWriter(initialBytes);
  }

  /** Bytes of frames written since the last reset. */
  get length(): number {
    return this.#w.pos;
  }

  /** The frames written since the last reset (valid until the next write). */
  get bytes(): Buffer {
    return this.#w.buf.subarray(0, this.#w.pos);
  }

  /** The underlying buffer: frames are at [0, length). */
  get buffer(): Buffer {
    return this.#w.buf;
  }

  reset(): void {
    this.#w.pos = 0;
  }

  /** Appends one record as a frame; returns the frame's bytes (length prefix included). */
  record(
    seq: number,
    timeMs: number,
    level: LogLevel,
    step: string,
    stream: "stdout" | "stderr" | undefined,
    msg: string,
    fields: Record<string, FieldValue> | undefined,
  ): number {
    const w = this.#w;
    const stepBytes = this.#stepBytes(step);
    w.ensure(FRAME_HEADER_BYTES + 9 + 16 + 12 + msg.length * 3 + stepBytes.length + 24 + 32);
    const frame = w.pos;
    const buf = w.buf;
    let pos = frame + FRAME_HEADER_BYTES;
    // time_unix_nano (fixed64), cached per millisecond
    if (timeMs !== this.#lastMs) {
      this.#lastMs = timeMs;
      this.#time.writeBigUInt64LE(BigInt(timeMs) * 1_000_000n, 1);
    }
    // TypedArray#set: Buffer#copy costs ~100 ns a call in argument checks, several times the copy itself.
    buf.set(this.#time, pos);
    pos += 9;
    const severity = SEVERITY_BYTES[level] ?? SEVERITY_BYTES.info;
    buf.set(severity, pos);
    pos += severity.length;
    // body: AnyValue{string_value}; both lengths sized for the worst case, shifted when smaller
    buf[pos++] = 0x2a;
    const bound = msg.length * 3;
    const inner = varintSize(bound);
    const outer = varintSize(bound + 1 + inner);
    const text = pos + outer + 1 + inner;
    const n = buf.write(msg, text, "utf8");
    const innerSize = varintSize(n);
    const outerSize = varintSize(1 + innerSize + n);
    if (innerSize + outerSize !== inner + outer)
      buf.copyWithin(pos + outerSize + 1 + innerSize, text, text + n);
    pos = putVarint(buf, pos, 1 + innerSize + n);
    buf[pos++] = 0x0a;
    pos = putVarint(buf, pos, n);
    pos += n;
    w.pos = pos;
    if (fields !== undefined) {
      for (const key in fields) if (!RESERVED_KEYS.has(key)) w.attr(key, fields[key]!);
    }
    w.ensure(stepBytes.length + 24 + 24);
    pos = w.pos;
    const out = w.buf;
    out.set(stepBytes, pos);
    pos += stepBytes.length;
    if (stream !== undefined) {
      out.set(STREAM_BYTES[stream], pos);
      pos += STREAM_BYTES[stream].length;
    }
    // runner.log.seq: KeyValue{key, AnyValue{int_value}}
    const seqSize = varintSize(seq);
    out[pos++] = 0x32;
    out[pos++] = 2 + SEQ_KEY.length + 2 + 1 + seqSize;
    out[pos++] = 0x0a;
    out[pos++] = SEQ_KEY.length;
    out.set(SEQ_KEY, pos);
    pos += SEQ_KEY.length;
    out[pos++] = 0x12;
    out[pos++] = 1 + seqSize;
    out[pos++] = 0x18;
    pos = putVarint(out, pos, seq);
    out.writeUInt32LE(pos - frame - FRAME_HEADER_BYTES, frame);
    w.pos = pos;
    return pos - frame;
  }

  #stepBytes(step: string): Buffer {
    let bytes = this.#steps.get(step);
    if (bytes === undefined) {
      bytes = stringAttrBytes("runner_job_execution_step.name", step);
      if (this.#steps.size < 64) this.#steps.set(step, bytes);
    }
    return bytes;
  }
}

/**
 * Walks the frames in buf[start, end): calls `each(bodyStart, bodyEnd)` for every complete frame, at most
 * `maxFrames`, stopping before a frame that would take the total past `maxBytes` unless fewer than `minFrames`
 * were taken; returns the position after the last frame taken and how many. A length that runs past `end`
 * stops the walk (a torn or damaged tail).
 */
export function walkFrames(
  buf: Buffer,
  start: number,
  end: number,
  maxFrames = Number.POSITIVE_INFINITY,
  maxBytes = Number.POSITIVE_INFINITY,
  minFrames = 1,
  each?: (bodyStart: number, bodyEnd: number) => void,
): { end: number; count: number } {
  let pos = start;
  let count = 0;
  while (count < maxFrames && end - pos >= FRAME_HEADER_BYTES) {
    const size = FRAME_HEADER_BYTES + buf.readUInt32LE(pos);
    if (size > end - pos || (count >= minFrames && pos + size - start > maxBytes)) break;
    each?.(pos + FRAME_HEADER_BYTES, pos + size);
    pos += size;
    count++;
  }
  return { end: pos, count };
}

/** Reads a frame's record back (tests, tools): time, level, step, stream, message, fields, sequence number. */
export function decodeFrame(buf: Buffer, start: number, end: number): SpoolRecord {
  const record: SpoolRecord = { seq: 0, time: 0, level: "info", step: "", msg: "" };
  const fields: Record<string, FieldValue> = {};
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80 || pos >= end) return result;
      scale *= 128;
    }
  };
  /** An int64 varint (two's complement), as a number. */
  const int64 = (): number => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (byte < 0x80 || pos >= end) return Number(BigInt.asIntN(64, result));
    }
  };
  const string = (): string => {
    const n = varint();
    pos += n;
    return buf.toString("utf8", pos - n, pos);
  };
  /** An AnyValue: string, bool, int, double. */
  const value = (stop: number): FieldValue => {
    let v: FieldValue = "";
    while (pos < stop) {
      const tag = varint();
      if (tag === 0x0a) v = string();
      else if (tag === 0x10) v = varint() !== 0;
      else if (tag === 0x18) v = int64();
      else if (tag === 0x21) {
        v = buf.readDoubleLE(pos);
        pos += 8;
      } else throw new Error(`a spool frame holds an unexpected value (tag ${tag})`);
    }
    return v;
  };
  while (pos < end) {
    const tag = varint();
    if (tag === 0x09) {
      record.time = Number(buf.readBigUInt64LE(pos) / 1_000_000n);
      pos += 8;
    } else if (tag === 0x10) {
      const n = varint();
      record.level = (Object.keys(SEVERITY) as LogLevel[]).find((l) => SEVERITY[l].number === n) ?? "info";
    } else if (tag === 0x1a) string();
    else if (tag === 0x2a) {
      const stop = varint() + pos;
      record.msg = String(value(stop));
    } else if (tag === 0x32) {
      const stop = varint() + pos;
      varint(); // key tag
      const key = string();
      varint(); // value tag
      const v = value(varint() + pos);
      pos = stop;
      if (key === "runner.log.seq") record.seq = Number(v);
      else if (key === "runner_job_execution_step.name") record.step = String(v);
      else if (key === "stream") record.stream = v as "stdout" | "stderr";
      else fields[key] = v;
    } else throw new Error(`a spool frame holds an unexpected field (tag ${tag})`);
  }
  if (Object.keys(fields).length > 0) record.fields = fields;
  return record;
}
