/**
 * A minimal protobuf writer over one growing buffer, for the log record encoders (frames.ts, logs-encoder.ts).
 * Length-delimited fields reserve one byte for their length and shift their contents when the length needs more
 * (canonical, minimal varints throughout).
 */
import type { FieldValue } from "./otlp-records.ts";

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;

/** Bytes of the varint of a non-negative integer below 2^35. */
export const varintSize = (v: number): number =>
  v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;

/** Writes the varint of `value` (non-negative, below 2^53) at `pos`; returns the position after it. */
export function putVarint(buf: Buffer, pos: number, value: number): number {
  let v = value;
  while (v > 127) {
    buf[pos++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** A protobuf writer over one growing buffer; see the module comment. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 127) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Any int64, as protobuf's two's-complement varint. */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (v > 127n) {
      this.buf[this.pos++] = Number(v & 127n) | 128;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Reserves one byte for a length; returns the position to pass to `end`. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length of what followed `begin`, shifting it when the length takes more than one byte. */
  end(start: number): void {
    const length = this.pos - start - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(start + size, start + 1, this.pos);
      this.pos += size - 1;
    }
    const end = this.pos;
    this.pos = start;
    this.varint(length);
    this.pos = end;
  }

  string(field: number, value: string): void {
    this.tag(field, LEN);
    const start = this.begin();
    this.ensure(value.length * 3);
    this.pos += this.buf.write(value, this.pos, "utf8");
    this.end(start);
  }

  /** A KeyValue in `field` (6 in a LogRecord, 1 in a Resource) with a string, bool, int or double value. */
  attr(key: string, value: FieldValue, field = 6): void {
    this.tag(field, LEN);
    const kv = this.begin();
    this.string(1, key);
    this.tag(2, LEN);
    const any = this.begin();
    if (typeof value === "string") this.string(1, value);
    else if (typeof value === "boolean") {
      this.tag(2, VARINT);
      this.varint(value ? 1 : 0);
    } else if (Number.isSafeInteger(value)) {
      this.tag(3, VARINT);
      this.int64(value);
    } else {
      this.tag(4, I64);
      this.ensure(8);
      this.pos = this.buf.writeDoubleLE(value, this.pos);
    }
    this.end(any);
    this.end(kv);
  }

  /** The bytes written so far, as a copy. */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
