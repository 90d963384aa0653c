/**
 * Splits a byte stream into text lines as it arrives, with bounded memory.
 *
 * Bytes are held until a newline (0x0a) arrives and only then decoded, so a multi-byte UTF-8 character cut
 * across two chunks is decoded whole. A line longer than `maxLineBytes` is emitted in pieces of at most
 * `maxLineBytes` bytes, each cut on a character boundary, so a process that never prints a newline cannot grow
 * the buffer without limit. A trailing `\r` (CRLF) is dropped; invalid UTF-8 becomes U+FFFD, never an error.
 */

/** Default cap on one emitted line: 64 KiB. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Streaming line splitter: `push` chunks, then `end` once to flush a final line without a newline. */
export class LineSplitter {
  readonly #emit: (line: string) => void;
  readonly #maxLineBytes: number;
  readonly #decoder = new TextDecoder("utf-8");
  #pending: Buffer = Buffer.alloc(0);

  /** `maxLineBytes` defaults to 64 KiB and must be at least 4 (one UTF-8 character). */
  constructor(emit: (line: string) => void, maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 4) {
      throw new RangeError(`maxLineBytes must be an integer >= 4, got ${maxLineBytes}`);
    }
    this.#emit = emit;
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds one chunk; emits every line it completes. */
  push(chunk: Uint8Array | string): void {
    const bytes =
      typeof chunk === "string"
        ? Buffer.from(chunk, "utf8")
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, bytes]) : bytes;
    let start = 0;
    for (;;) {
      const newline = buf.indexOf(NEWLINE, start);
      const end = newline === -1 ? buf.length : newline;
      while (end - start > this.#maxLineBytes) {
        const cut = utf8Boundary(buf, start + this.#maxLineBytes, start);
        this.#emit(this.#decoder.decode(buf.subarray(start, cut)));
        start = cut;
      }
      if (newline === -1) break;
      this.#emitLine(buf.subarray(start, newline));
      start = newline + 1;
    }
    // Copy the remainder so a large chunk is not kept alive by a small tail.
    this.#pending = start === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(start));
  }

  /** Flushes a final partial line (one without a trailing newline), if any. Idempotent. */
  end(): void {
    if (this.#pending.length === 0) return;
    const rest = this.#pending;
    this.#pending = Buffer.alloc(0);
    this.#emitLine(rest);
  }

  #emitLine(bytes: Buffer): void {
    const body =
      bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes;
    this.#emit(this.#decoder.decode(body));
  }
}

/**
 * The largest index <= `at` that does not fall inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
 * Backs up at most 3 bytes; if the data is not UTF-8 at all it cuts at `at` anyway.
 */
export function utf8Boundary(buf: Uint8Array, at: number, min: number): number {
  let cut = at;
  while (cut > min && at - cut < 3 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  if (cut === min || ((buf[cut] ?? 0) & 0xc0) === 0x80) return at;
  return cut;
}
