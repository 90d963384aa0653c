/**
 * The response parser alone: framing by content-length, chunked (extensions, trailers) and close; no body for
 * HEAD, 204, 304; 1xx skipped; keep-alive from version and Connection; the same result whatever the byte
 * splits (one byte at a time, seeded random cuts); and the malformed answers it refuses.
 */
import { describe, expect, it } from "vitest";
import {
  type ParsedResponse,
  ResponseParseError,
  ResponseParser,
} from "../../src/control-plane/http1-parser.ts";
import { seededRandom } from "../support/seeded-random.ts";

const limits = { maxHeaderBytes: 64 * 1024, maxBodyBytes: 1024 * 1024 };

/** Feeds `text` in the given pieces (lengths), then ends the stream when `close` is set. */
function parse(
  text: string | Buffer,
  pieces?: number[],
  opts: { close?: boolean; expectBody?: boolean; limits?: typeof limits } = {},
): ParsedResponse | undefined {
  const bytes = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  const parser = new ResponseParser(opts.limits ?? limits, opts.expectBody ?? true);
  let res: ParsedResponse | undefined;
  let at = 0;
  for (const n of pieces ?? [bytes.length]) {
    res = parser.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) res = parser.push(bytes.subarray(at));
  if (opts.close === true && res === undefined) res = parser.end();
  return res;
}

function refused(text: string, opts: { expectBody?: boolean; limits?: typeof limits } = {}) {
  try {
    parse(text, undefined, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ResponseParseError);
    return err as ResponseParseError;
  }
  throw new Error("the parser accepted it");
}

const samples: Record<string, { text: string; close?: boolean; status: number; body: string }> = {
  "content-length": {
    text: 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    status: 200,
    body: '{"ok":true}',
  },
  chunked: {
    text:
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      '5;name=value\r\nhello\r\n1 ; a="b"\r\n \r\n6\r\nworld!\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
    status: 200,
    body: "hello world!",
  },
  "100 continue": {
    text: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    status: 201,
    body: "ok",
  },
  "until close": {
    text: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\r\nuntil the end",
    close: true,
    status: 200,
    body: "all of it\r\nuntil the end",
  },
};

describe("ResponseParser", () => {
  it("reads a content-length answer: status, lower-case headers, body, keep-alive", () => {
    const res = parse(samples["content-length"]!.text);
    expect(res).toMatchObject({ status: 200, keepAlive: true, trailingBytes: 0 });
    expect(res?.body.toString()).toBe('{"ok":true}');
    expect({ ...res?.headers }).toEqual({ "content-type": "application/json", "content-length": "11" });
  });

  it("joins repeated headers with a comma and trims optional whitespace", () => {
    const res = parse("HTTP/1.1 204 No Content\r\nVary: a\r\nvary:b  \r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n");
    expect(res?.headers).toMatchObject({ vary: "a, b", "x-empty": "", "x-tab": "v" });
  });

  it("reads a chunked body, ignoring chunk extensions and dropping trailers", () => {
    const res = parse(samples.chunked!.text);
    expect(res?.body.toString()).toBe("hello world!");
    expect(res?.headers["x-checksum"]).toBeUndefined();
    expect(res).toMatchObject({ keepAlive: true, trailingBytes: 0 });
  });

  it("skips 1xx interim answers and returns the final one", () => {
    const res = parse(samples["100 continue"]!.text);
    expect(res).toMatchObject({ status: 201, trailingBytes: 0 });
    expect(res?.headers.link).toBeUndefined();
    expect(res?.body.toString()).toBe("ok");
  });

  it("reads a body without length until the connection closes, and never keeps that connection", () => {
    const parser = new ResponseParser(limits);
    expect(parser.push(Buffer.from(samples["until close"]!.text))).toBeUndefined();
    const res = parser.end();
    expect(res?.body.toString()).toBe("all of it\r\nuntil the end");
    expect(res?.keepAlive).toBe(false);
  });

  it("has no body for 204, 304 and the answer to HEAD, whatever content-length says", () => {
    expect(parse("HTTP/1.1 204 No Content\r\n\r\n")?.body.length).toBe(0);
    expect(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")).toMatchObject({
      status: 304,
      trailingBytes: 0,
    });
    const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", undefined, { expectBody: false });
    expect(head).toMatchObject({ status: 200, keepAlive: true });
    expect(head?.body.length).toBe(0);
  });

  it("counts bytes after a complete answer as trailing", () => {
    const res = parse(`${samples["content-length"]!.text}HTTP/1.1 200 OK\r\n`);
    expect(res?.trailingBytes).toBe(17);
    const after = parse("HTTP/1.1 204 No Content\r\n\r\n", [27, 0]);
    expect(after?.trailingBytes).toBe(0);
  });

  it("answers nothing until the answer is complete, and nothing at close when a length is missing", () => {
    const parser = new ResponseParser(limits);
    expect(parser.started).toBe(false);
    expect(parser.push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))).toBeUndefined();
    expect(parser.started).toBe(true);
    expect(parser.end()).toBeUndefined();
    const chunked = new ResponseParser(limits);
    expect(
      chunked.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")),
    ).toBeUndefined();
    expect(chunked.end()).toBeUndefined();
  });

  it("keeps an HTTP/1.1 connection unless told to close, and an HTTP/1.0 one only with keep-alive", () => {
    const keep = (head: string) => parse(`${head}\r\nContent-Length: 0\r\n\r\n`)?.keepAlive;
    expect(keep("HTTP/1.1 200 OK")).toBe(true);
    expect(keep("HTTP/1.1 200 OK\r\nConnection: close")).toBe(false);
    expect(keep("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close")).toBe(false);
    expect(keep("HTTP/1.0 200 OK")).toBe(false);
    expect(keep("HTTP/1.0 200 OK\r\nConnection: Keep-Alive")).toBe(true);
  });

  it("accepts a status line without a reason phrase, and repeated identical content-lengths", () => {
    expect(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")?.status).toBe(200);
    const res = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc");
    expect(res?.body.toString()).toBe("abc");
    expect(res?.headers["content-length"]).toBe("3");
  });

  for (const [name, sample] of Object.entries(samples)) {
    it(`parses a ${name} answer the same when it arrives one byte at a time or cut at random points`, () => {
      const whole = parse(sample.text, undefined, { close: sample.close === true });
      expect(whole?.status).toBe(sample.status);
      expect(whole?.body.toString()).toBe(sample.body);
      const len = Buffer.byteLength(sample.text, "latin1");
      const bytewise = parse(sample.text, new Array<number>(len).fill(1), { close: sample.close === true });
      expect(bytewise).toEqual(whole);
      const next = seededRandom(20_240_601);
      for (let round = 0; round < 200; round++) {
        const pieces: number[] = [];
        for (let left = len; left > 0; ) {
          const n = Math.min(left, 1 + Math.floor(next() * 12));
          pieces.push(n);
          left -= n;
        }
        expect(parse(sample.text, pieces, { close: sample.close === true })).toEqual(whole);
      }
    });
  }

  it("refuses conflicting or non-numeric content-lengths, and content-length with transfer-encoding", () => {
    expect(refused("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").message).toMatch(
      /conflicting content-length/,
    );
    expect(refused("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd").kind).toBe("malformed");
    expect(refused("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n").message).toMatch(/not a number/);
    expect(refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").message).toMatch(/not a number/);
    expect(
      refused(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      ).message,
    ).toMatch(/both transfer-encoding and content-length/);
  });

  it("refuses bare LF line endings, obs-fold, control characters and a status line that is not HTTP/1.x", () => {
    expect(refused("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n").message).toMatch(/malformed/);
    expect(refused("HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 0\r\n\r\n").message).toMatch(
      /malformed/,
    );
    expect(refused("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n").message).toMatch(
      /obs-fold/,
    );
    expect(refused("HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n").kind).toBe("malformed");
    expect(refused("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n").message).toMatch(/control/);
    expect(refused("HTTP/2 200 OK\r\n\r\n").message).toMatch(/status line/);
    expect(refused("HTTP/1.1 20 OK\r\n\r\n").message).toMatch(/status line/);
    expect(refused("\r\nHTTP/1.1 200 OK\r\n\r\n").message).toMatch(/status line/);
    expect(refused("HTTP/1.1 101 Switching Protocols\r\n\r\n").message).toMatch(/switches protocols/);
  });

  it("refuses bad chunk framing: a size that is not hex, a bare LF, data not followed by CRLF", () => {
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect(refused(`${head}zz\r\n`).message).toMatch(/chunk-size/);
    expect(refused(`${head}3\nabc\r\n0\r\n\r\n`).message).toMatch(/chunk-size/);
    expect(refused(`${head}3\r\nabcd\r\n0\r\n\r\n`).message).toMatch(/CRLF/);
    expect(refused(`${head}3\r\nabc\r\n0\r\nbad trailer\r\n\r\n`).message).toMatch(/trailer/);
  });

  it("refuses headers larger than maxHeaderBytes, whole or split", () => {
    const small = { maxHeaderBytes: 1024, maxBodyBytes: 1024 };
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(2_000)}\r\nContent-Length: 0\r\n\r\n`;
    expect(refused(big, { limits: small }).message).toMatch(/headers larger than 1024 bytes/);
    expect(() => parse(big, new Array<number>(big.length).fill(1), { limits: small })).toThrow(
      /headers larger than 1024 bytes/,
    );
    const endless = new ResponseParser(small);
    expect(() => {
      for (let i = 0; i < 100; i++) endless.push(Buffer.from(`X-Header-${i}: ${"v".repeat(20)}\r\n`));
    }).toThrow(/headers larger than 1024 bytes/);
  });

  it("refuses a body larger than maxBodyBytes, declared, chunked or read until close", () => {
    const small = { maxHeaderBytes: 1024, maxBodyBytes: 10 };
    const declared = refused("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", { limits: small });
    expect(declared).toMatchObject({ kind: "too-large" });
    expect(declared.message).toContain("10 bytes");
    expect(
      refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", { limits: small })
        .kind,
    ).toBe("too-large");
    expect(refused("HTTP/1.1 200 OK\r\n\r\n0123456789A", { limits: small }).kind).toBe("too-large");
    expect(
      parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", undefined, { limits: small }),
    ).toBeDefined();
  });
});
