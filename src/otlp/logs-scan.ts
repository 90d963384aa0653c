/**
 * A receiver's hot path over OTLP `ExportLogsServiceRequest` protobuf bytes, without protobufjs:
 * `scanLogsRequest` checks the whole message's structure and pulls out, per log record, only what a receiver
 * needs to de-duplicate (`runner_job_execution.id`, `runner.log.seq`, a drop marker's range) without building
 * the record (about half a microsecond a record; protobufjs with `flattenLogsRequest` spends about ten). Like Go's
 * protobuf, a known field sent with another wire type is skipped as an unknown field, and strings are not checked
 * for valid UTF-8. Decoding the records, when someone reads them, is logs-reader.ts.
 */

/** What `scanLogsRequest` reports about one log record; -1 where the attribute is absent. */
export interface ScannedLogRecord {
  /** `runner_job_execution.id`, "" when absent. */
  executionId: string;
  /** `runner.log.seq`. */
  seq: number;
  /** `runner.log.dropped_from_seq` / `runner.log.dropped_to_seq` of a drop marker. */
  droppedFromSeq: number;
  droppedToSeq: number;
}

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

const KEY_SEQ = Buffer.from("runner.log.seq");
const KEY_EXECUTION = Buffer.from("runner_job_execution.id");
const KEY_DROPPED_FROM = Buffer.from("runner.log.dropped_from_seq");
const KEY_DROPPED_TO = Buffer.from("runner.log.dropped_to_seq");

/** A structural problem in the bytes. */
export class ProtoError extends Error {}

/** The bytes as a Buffer (no copy). */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The error thrown for bytes that are not a valid message. */
export function invalid(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`invalid OTLP logs protobuf: ${message}`, { cause: err });
}

// The scan below is the receiver's hot path (one call per record, a few per attribute): plain loops over
// (buf, start, end) without closures or reader objects. `at` carries the position after a varint or a
// length-delimited header, so these helpers can return the value itself.
let at = 0;

/** Reads the varint at `p` (exact below 2^53); `at` = the position after it. */
function varintAt(buf: Buffer, p: number, end: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) throw new ProtoError(`truncated varint at offset ${p}`);
    const byte = buf[p++]!;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      at = p;
      return result;
    }
    scale *= 128;
  }
  throw new ProtoError(`varint longer than 10 bytes at offset ${p}`);
}

/** `varintAt` with the one-byte case inline (tags and short lengths); `at` = the position after it. */
function smallVarintAt(buf: Buffer, p: number, end: number): number {
  const byte = p < end ? buf[p]! : 0x80;
  if (byte < 0x80) {
    at = p + 1;
    return byte;
  }
  return varintAt(buf, p, end);
}

/** Reads a length-delimited header at `p`; returns the end of its contents, `at` = their start. */
function lenAt(buf: Buffer, p: number, end: number): number {
  const length = smallVarintAt(buf, p, end);
  if (length > end - at)
    throw new ProtoError(`length ${length} at offset ${at} runs past the end of its message`);
  return at + length;
}

/** Skips a value of `wireType` at `p`; returns the position after it. */
function skipAt(buf: Buffer, p: number, end: number, wireType: number): number {
  if (wireType === VARINT) {
    varintAt(buf, p, end);
    return at;
  }
  if (wireType === LEN) return lenAt(buf, p, end);
  const size = wireType === I64 ? 8 : wireType === I32 ? 4 : -1;
  if (size < 0) throw new ProtoError(`unsupported wire type ${wireType} at offset ${p}`);
  if (end - p < size) throw new ProtoError(`truncated fixed-width field at offset ${p}`);
  return p + size;
}

/**
 * Walks the fields of the message in [start, end): LEN fields numbered `field` go to `onField(s, e)`, every
 * other field is skipped. Used for the outer levels, which have few fields.
 */
function walk(
  buf: Buffer,
  start: number,
  end: number,
  field: number,
  onField: (s: number, e: number) => void,
) {
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    if (tag === field * 8 + LEN) {
      const e = lenAt(buf, p, end);
      onField(at, e);
      p = e;
    } else p = skipAt(buf, p, end, tag & 7);
  }
}

/** Checks an AnyValue's structure (nested arrays and kvlists included). */
function checkAnyValue(buf: Buffer, start: number, end: number): void {
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    if (tag === 5 * 8 + LEN || tag === 6 * 8 + LEN) {
      const e = lenAt(buf, p, end);
      checkList(buf, at, e, tag === 5 * 8 + LEN);
      p = e;
    } else p = skipAt(buf, p, end, tag & 7);
  }
}

/** Checks an ArrayValue (AnyValues) or a KeyValueList (KeyValues). */
function checkList(buf: Buffer, start: number, end: number, isArray: boolean): void {
  walk(buf, start, end, 1, (s, e) => (isArray ? checkAnyValue(buf, s, e) : checkKeyValue(buf, s, e)));
}

function checkKeyValue(buf: Buffer, start: number, end: number): void {
  walk(buf, start, end, 2, (s, e) => checkAnyValue(buf, s, e));
}

/** Checks the KeyValues in `field` of a message (a Resource's 1, an InstrumentationScope's 3). */
function checkKeyValues(buf: Buffer, start: number, end: number, field: number): void {
  walk(buf, start, end, field, (s, e) => checkKeyValue(buf, s, e));
}

/** An AnyValue's intValue when it is a non-negative integer below 2^49, else -1 (the value is checked too). */
function intValueOf(buf: Buffer, start: number, end: number): number {
  let value = -1;
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag === 3 * 8 + VARINT) {
      const v = varintAt(buf, p, end);
      value = at - p < 8 ? v : -1; // up to 7 varint bytes: exact and non-negative
      p = at;
    } else if (tag === 5 * 8 + LEN || tag === 6 * 8 + LEN) {
      const e = lenAt(buf, p, end);
      checkList(buf, at, e, tag === 5 * 8 + LEN);
      p = e;
    } else if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    else p = skipAt(buf, p, end, tag & 7);
  }
  return value;
}

/** True when buf[start, end) holds `key` (a JS loop: a native compare costs more for keys this short). */
function keyIs(buf: Buffer, start: number, end: number, key: Uint8Array): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[start + i] !== key[i]) return false;
  return true;
}

/** True when buf[a, a + n) equals buf[b, b + n). */
function sameBytes(buf: Buffer, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** Per batch: the execution id of the previous record, decoded once and compared as bytes. */
interface IdCache {
  id: string;
  start: number;
  end: number;
}

/** Scans one LogRecord in [start, end). */
function scanRecord(buf: Buffer, start: number, end: number, ids: IdCache): ScannedLogRecord {
  const rec: ScannedLogRecord = { executionId: "", seq: -1, droppedFromSeq: -1, droppedToSeq: -1 };
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag === 6 * 8 + LEN) {
      const kvEnd = lenAt(buf, p, end);
      scanAttribute(buf, at, kvEnd, rec, ids);
      p = kvEnd;
    } else if (tag === 5 * 8 + LEN) {
      const e = lenAt(buf, p, end);
      checkAnyValue(buf, at, e);
      p = e;
    } else if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    else p = skipAt(buf, p, end, tag & 7);
  }
  return rec;
}

/** Scans one KeyValue in [start, end): reads the value when the key is one the receiver wants. */
function scanAttribute(buf: Buffer, start: number, end: number, rec: ScannedLogRecord, ids: IdCache): void {
  let keyStart = -1;
  let keyEnd = -1;
  let valueStart = -1;
  let valueEnd = -1;
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag === 1 * 8 + LEN) {
      keyEnd = lenAt(buf, p, end);
      keyStart = at;
      p = keyEnd;
    } else if (tag === 2 * 8 + LEN) {
      valueEnd = lenAt(buf, p, end);
      valueStart = at;
      p = valueEnd;
    } else if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    else p = skipAt(buf, p, end, tag & 7);
  }
  if (valueStart < 0) return;
  if (keyIs(buf, keyStart, keyEnd, KEY_SEQ)) {
    rec.seq = intValueOf(buf, valueStart, valueEnd);
  } else if (keyIs(buf, keyStart, keyEnd, KEY_EXECUTION)) {
    rec.executionId = stringValueOf(buf, valueStart, valueEnd, ids);
  } else if (keyIs(buf, keyStart, keyEnd, KEY_DROPPED_FROM)) {
    rec.droppedFromSeq = intValueOf(buf, valueStart, valueEnd);
  } else if (keyIs(buf, keyStart, keyEnd, KEY_DROPPED_TO)) {
    rec.droppedToSeq = intValueOf(buf, valueStart, valueEnd);
  } else checkAnyValue(buf, valueStart, valueEnd);
}

/** An AnyValue's stringValue ("" when it has none); the same bytes as last time give the same string. */
function stringValueOf(buf: Buffer, start: number, end: number, ids: IdCache): string {
  let value = "";
  let p = start;
  while (p < end) {
    const tag = smallVarintAt(buf, p, end);
    p = at;
    if (tag === 1 * 8 + LEN) {
      const e = lenAt(buf, p, end);
      const s = at;
      if (e - s !== ids.end - ids.start || !sameBytes(buf, s, ids.start, e - s)) {
        ids.id = buf.toString("utf8", s, e);
        ids.start = s;
        ids.end = e;
      }
      value = ids.id;
      p = e;
    } else if (tag === 5 * 8 + LEN || tag === 6 * 8 + LEN) {
      const e = lenAt(buf, p, end);
      checkList(buf, at, e, tag === 5 * 8 + LEN);
      p = e;
    } else if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
    else p = skipAt(buf, p, end, tag & 7);
  }
  return value;
}

/**
 * Checks the structure of a whole request and returns, per log record in order, its execution id, sequence
 * number and drop-marker range. Throws an Error starting "invalid OTLP logs protobuf" when the bytes are not a
 * valid message.
 */
export function scanLogsRequest(bytes: Uint8Array): ScannedLogRecord[] {
  const buf = asBuffer(bytes);
  const out: ScannedLogRecord[] = [];
  const ids: IdCache = { id: "", start: 0, end: 0 };
  try {
    walk(buf, 0, buf.length, 1, (rlStart, rlEnd) => {
      let p = rlStart;
      while (p < rlEnd) {
        const tag = varintAt(buf, p, rlEnd);
        p = at;
        if (tag === 1 * 8 + LEN) {
          const e = lenAt(buf, p, rlEnd);
          checkKeyValues(buf, at, e, 1); // Resource
          p = e;
        } else if (tag === 2 * 8 + LEN) {
          const slEnd = lenAt(buf, p, rlEnd);
          let q = at; // ScopeLogs
          while (q < slEnd) {
            const t = varintAt(buf, q, slEnd);
            q = at;
            if (t === 2 * 8 + LEN) {
              const e = lenAt(buf, q, slEnd);
              out.push(scanRecord(buf, at, e, ids));
              q = e;
            } else if (t === 1 * 8 + LEN) {
              const e = lenAt(buf, q, slEnd);
              checkKeyValues(buf, at, e, 3); // InstrumentationScope
              q = e;
            } else if (t < 8) throw new ProtoError(`field number 0 at offset ${q}`);
            else q = skipAt(buf, q, slEnd, t & 7);
          }
          p = slEnd;
        } else if (tag < 8) throw new ProtoError(`field number 0 at offset ${p}`);
        else p = skipAt(buf, p, rlEnd, tag & 7);
      }
    });
  } catch (err) {
    throw invalid(err);
  }
  return out;
}
