/**
 * An incremental, strict parser of one HTTP/1.1 (or 1.0) response, fed the bytes of a connection as they
 * arrive, split anywhere. It reads the status line and the headers (CRLF line endings only, no obs-fold,
 * at most `maxHeaderBytes`), skips 1xx interim answers, and reads the body by Content-Length, by chunked
 * transfer coding (extensions ignored, trailers read and dropped) or until the connection closes; there is
 * no body for a HEAD request, 204, 304. Anything it does not understand is an error, never a guess.
 *
 * Pure: no sockets, no timers. transport.ts owns the connection and decides about keep-alive from
 * `keepAlive` and `trailingBytes`.
 */

/** Why a response cannot be read: it is `malformed` (or its head too large), or its body is `too-large`. */
export type ResponseParseErrorKind = "malformed" | "too-large";

/** A response the parser refuses; the connection it came on must be dropped. */
export class ResponseParseError extends Error {
  override readonly name = "ResponseParseError";
  readonly kind: ResponseParseErrorKind;
  constructor(kind: ResponseParseErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** A complete response. */
export interface ParsedResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** True when the connection may carry another request (the server did not ask to close it, HTTP/1.0 only with keep-alive, body not delimited by close). */
  keepAlive: boolean;
  /** Bytes that arrived after the end of this response; a connection that got any must not be reused. */
  trailingBytes: number;
}

/** Limits of one response. */
export interface ResponseParserLimits {
  /** Largest status line plus headers (and, separately, trailers), in bytes. */
  maxHeaderBytes: number;
  /** Largest body, in bytes (after removing the chunked framing). */
  maxBodyBytes: number;
}

const HEAD = 0;
const FIXED = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CRLF = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

/** Longest chunk-size line (size and extensions), in bytes. */
const MAX_CHUNK_LINE_BYTES = 4096;
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[\t ]*(.*?)[\t ]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const INVALID_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]{1,13})[\t ]*(?:;[^\r\n]*)?\r\n$/;
const DIGITS = /^\d{1,15}$/;

/** Parses one response; make a new one per request. */
export class ResponseParser {
  /** True once any byte of the answer arrived. */
  started = false;
  private readonly limits: ResponseParserLimits;
  private readonly expectBody: boolean;
  private state = HEAD;
  /** Head bytes waiting for the blank line that ends them. */
  private headStore: Buffer | undefined;
  private headLen = 0;
  /** A chunk-size or trailer line read so far (latin1). */
  private line = "";
  private trailerBytes = 0;
  private crlfSeen = 0;
  private remaining = 0;
  private readonly chunks: Buffer[] = [];
  private bodyBytes = 0;
  private status = 0;
  private headers: Record<string, string> = Object.create(null) as Record<string, string>;
  private keepAlive = false;
  private trailing = 0;

  /** `expectBody` is false for the answer to a HEAD request. */
  constructor(limits: ResponseParserLimits, expectBody = true) {
    this.limits = limits;
    this.expectBody = expectBody;
  }

  /** Feeds bytes; returns the response once complete (bytes after it count as `trailingBytes`), otherwise undefined. Throws ResponseParseError. */
  push(chunk: Buffer): ParsedResponse | undefined {
    if (chunk.length > 0) this.started = true;
    if (this.state === DONE) {
      this.trailing += chunk.length;
      return this.result();
    }
    let pos = 0;
    while (pos < chunk.length && this.state !== DONE) {
      switch (this.state) {
        case HEAD:
          pos = this.readHead(chunk, pos);
          break;
        case FIXED:
        case CHUNK_DATA:
          pos = this.readData(chunk, pos);
          break;
        case CHUNK_SIZE:
        case TRAILERS:
          pos = this.readLine(chunk, pos);
          break;
        case CHUNK_CRLF:
          if (chunk[pos] !== (this.crlfSeen === 0 ? 13 : 10))
            throw malformed("a chunk is not followed by CRLF");
          pos++;
          if (++this.crlfSeen === 2) this.state = CHUNK_SIZE;
          break;
        default: // UNTIL_CLOSE
          this.addBody(pos === 0 ? chunk : chunk.subarray(pos));
          pos = chunk.length;
      }
    }
    if (this.state !== DONE) return undefined;
    this.trailing += chunk.length - pos;
    return this.result();
  }

  /** The connection ended: returns the response when it is complete (a body read until close is), otherwise undefined. */
  end(): ParsedResponse | undefined {
    if (this.state === UNTIL_CLOSE) this.state = DONE;
    return this.state === DONE ? this.result() : undefined;
  }

  private result(): ParsedResponse {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bodyBytes);
    return {
      status: this.status,
      headers: this.headers,
      body,
      keepAlive: this.keepAlive,
      trailingBytes: this.trailing,
    };
  }

  private readHead(chunk: Buffer, pos: number): number {
    const max = this.limits.maxHeaderBytes;
    if (this.headLen === 0) {
      const end = chunk.indexOf(CRLFCRLF, pos);
      if (end !== -1) {
        if (end + 4 - pos > max) throw headTooLarge(max);
        this.onHead(chunk.toString("latin1", pos, end));
        return end + 4;
      }
    }
    // the head is split across reads: keep its bytes until the blank line arrives
    const from = Math.max(0, this.headLen - 3);
    const add = chunk.length - pos;
    if (this.headStore === undefined || this.headStore.length < this.headLen + add) {
      const grown = Buffer.allocUnsafe(Math.max(256, 2 * (this.headLen + add)));
      this.headStore?.copy(grown, 0, 0, this.headLen);
      this.headStore = grown;
    }
    chunk.copy(this.headStore, this.headLen, pos);
    this.headLen += add;
    const store = this.headStore;
    const end = store.subarray(0, this.headLen).indexOf(CRLFCRLF, from);
    if (end === -1) {
      if (this.headLen > max) throw headTooLarge(max);
      return chunk.length;
    }
    if (end + 4 > max) throw headTooLarge(max);
    const consumed = end + 4 - (this.headLen - add);
    this.headLen = 0;
    this.onHead(store.toString("latin1", 0, end));
    return pos + consumed;
  }

  private onHead(text: string): void {
    const lines = text.split("\r\n");
    const status = STATUS_LINE.exec(lines[0]!);
    if (status === null) throw malformed("its status line is not HTTP/1.x");
    const http10 = status[1] === "0";
    const code = Number(status[2]);
    const headers = Object.create(null) as Record<string, string>;
    let contentLength: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const m = HEADER_LINE.exec(lines[i]!);
      if (m === null) throw malformed("a header line is not `name: value` (or uses obs-fold or bare LF)");
      const value = m[2]!;
      if (INVALID_VALUE.test(value)) throw malformed("a header value holds control characters");
      const name = m[1]!.toLowerCase();
      if (name === "content-length") {
        for (const part of value.split(",")) {
          const n = part.trim();
          if (!DIGITS.test(n)) throw malformed("its content-length is not a number");
          if (contentLength !== undefined && contentLength !== n) {
            throw malformed("it has conflicting content-length values");
          }
          contentLength = n;
        }
        headers[name] = contentLength!;
        continue;
      }
      const prev = headers[name];
      headers[name] = prev === undefined ? value : `${prev}, ${value}`;
    }
    if (code < 200) {
      if (code === 101) throw malformed("it switches protocols, which was not asked for");
      return; // an interim answer (100 Continue, 103 Early Hints): the final one follows
    }
    this.status = code;
    this.headers = headers;
    const connection = headers.connection?.toLowerCase();
    this.keepAlive = http10
      ? connection !== undefined && hasToken(connection, "keep-alive")
      : connection === undefined || !hasToken(connection, "close");
    if (!this.expectBody || code === 204 || code === 304) {
      this.state = DONE;
      return;
    }
    const te = headers["transfer-encoding"];
    if (te !== undefined) {
      if (contentLength !== undefined) throw malformed("it has both transfer-encoding and content-length");
      const codings = te.toLowerCase().split(",");
      if (codings[codings.length - 1]!.trim() === "chunked") {
        this.state = CHUNK_SIZE;
        return;
      }
      this.keepAlive = false;
      this.state = UNTIL_CLOSE;
      return;
    }
    if (contentLength !== undefined) {
      const n = Number(contentLength);
      if (n > this.limits.maxBodyBytes) throw bodyTooLarge(this.limits.maxBodyBytes);
      this.remaining = n;
      this.state = n === 0 ? DONE : FIXED;
      return;
    }
    this.keepAlive = false;
    this.state = UNTIL_CLOSE;
  }

  private readData(chunk: Buffer, pos: number): number {
    const take = Math.min(this.remaining, chunk.length - pos);
    this.addBody(pos === 0 && take === chunk.length ? chunk : chunk.subarray(pos, pos + take));
    this.remaining -= take;
    if (this.remaining === 0) {
      if (this.state === FIXED) this.state = DONE;
      else {
        this.state = CHUNK_CRLF;
        this.crlfSeen = 0;
      }
    }
    return pos + take;
  }

  /** Reads a chunk-size line or a trailer line, up to and including its LF. */
  private readLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(10, pos);
    const end = lf === -1 ? chunk.length : lf + 1;
    this.line += chunk.toString("latin1", pos, end);
    if (this.state === CHUNK_SIZE) {
      if (this.line.length > MAX_CHUNK_LINE_BYTES) throw malformed("a chunk-size line is too long");
      if (lf === -1) return end;
      const m = CHUNK_SIZE_LINE.exec(this.line);
      this.line = "";
      if (m === null) throw malformed("a chunk-size line is not a hexadecimal size ending in CRLF");
      const size = Number.parseInt(m[1]!, 16);
      if (size === 0) {
        this.state = TRAILERS;
        this.trailerBytes = 0;
      } else {
        if (this.bodyBytes + size > this.limits.maxBodyBytes) throw bodyTooLarge(this.limits.maxBodyBytes);
        this.remaining = size;
        this.state = CHUNK_DATA;
      }
      return end;
    }
    // TRAILERS: header lines read and dropped, up to an empty line
    this.trailerBytes += end - pos;
    if (this.trailerBytes > this.limits.maxHeaderBytes) {
      throw malformed(`its trailers are larger than ${this.limits.maxHeaderBytes} bytes`);
    }
    if (lf === -1) return end;
    const line = this.line;
    this.line = "";
    if (!line.endsWith("\r\n")) throw malformed("a trailer line does not end in CRLF");
    if (line.length === 2) {
      this.state = DONE;
      return end;
    }
    const m = HEADER_LINE.exec(line.slice(0, -2));
    if (m === null || INVALID_VALUE.test(m[2]!)) throw malformed("a trailer line is not `name: value`");
    return end;
  }

  private addBody(buf: Buffer): void {
    this.bodyBytes += buf.length;
    if (this.bodyBytes > this.limits.maxBodyBytes) throw bodyTooLarge(this.limits.maxBodyBytes);
    this.chunks.push(buf);
  }
}

/** True when the comma-separated, lower-case `list` holds `token`. */
export function hasToken(list: string, token: string): boolean {
  if (list === token) return true;
  for (const part of list.split(",")) if (part.trim() === token) return true;
  return false;
}

function malformed(why: string): ResponseParseError {
  return new ResponseParseError("malformed", `the server's answer is malformed: ${why}`);
}

function headTooLarge(max: number): ResponseParseError {
  return new ResponseParseError("malformed", `the server's answer has headers larger than ${max} bytes`);
}

function bodyTooLarge(max: number): ResponseParseError {
  return new ResponseParseError(
    "too-large",
    `the answer's body is larger than ${max} bytes; it was not read`,
  );
}
