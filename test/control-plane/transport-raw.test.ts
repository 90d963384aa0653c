/**
 * The transport against a raw TCP server on loopback that answers crafted bytes: chunked with extensions and
 * trailers, content-length, read until close, 204, 100 Continue, answers cut byte by byte and at random
 * points, malformed answers (conflicting lengths, oversized headers), keep-alive reuse and its limits
 * (Connection: close, HTTP/1.0, extra bytes, a server closing an idle or a reused connection), a stall mid-body,
 * an oversized body, the request bytes it writes, and an idle pool that does not keep a process alive.
 */

import { execFile } from "node:child_process";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  createHttpTransport,
  type HttpTransport,
  TransportError,
} from "../../src/control-plane/transport.ts";
import { rejectionOf } from "../support/rejection.ts";
import { seededRandom } from "../support/seeded-random.ts";

interface RawRequest {
  /** The request head as received (request line and headers). */
  head: string;
  body: string;
  /** Index of the connection it came on, in order of connection. */
  connection: number;
  /** Index of the request on its connection. */
  onConnection: number;
}

type RawHandler = (req: RawRequest, socket: Socket, index: number) => void;

const closers: Array<() => Promise<void>> = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A TCP server on 127.0.0.1 that splits requests (content-length bodies) and lets `handler` write bytes. */
async function rawServer(handler: RawHandler) {
  const requests: RawRequest[] = [];
  const sockets: Socket[] = [];
  const closedConnections: number[] = [];
  const server: Server = createServer((socket) => {
    const connection = sockets.length;
    sockets.push(socket);
    socket.setNoDelay(true);
    socket.on("close", () => closedConnections.push(connection));
    socket.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    let onConnection = 0;
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const head = buf.toString("latin1", 0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.toString("utf8", end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        const req = { head, body, connection, onConnection: onConnection++ };
        requests.push(req);
        handler(req, socket, requests.length - 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { requests, sockets, closedConnections, port, url: `http://127.0.0.1:${port}` };
}

/** Answers every request with the same bytes. */
const always =
  (text: string): RawHandler =>
  (_req, socket) =>
    socket.write(text);

function transport(baseUrl: string, maxResponseBytes?: number): HttpTransport {
  const t = createHttpTransport({ baseUrl, ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) });
  transports.push(t);
  return t;
}

const get = (t: HttpTransport, extra: { timeoutMs?: number; resendOnStaleReuse?: boolean } = {}) =>
  t.request({ method: "GET", path: "/x", headers: {}, timeoutMs: extra.timeoutMs ?? 2_000, ...extra });

const failure = (p: Promise<unknown>) => rejectionOf(p, TransportError);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `bytes` in the given pieces, one per event-loop turn, so they arrive as separate reads. */
async function writeInPieces(socket: Socket, bytes: Buffer, pieces: number[]) {
  let at = 0;
  for (const n of pieces) {
    if (socket.destroyed) return;
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await sleep(1);
  }
}

const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const CHUNKED =
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n" +
  "4;ext=1\r\nWiki\r\n7;a=b;c\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n";

describe("createHttpTransport against crafted answers", () => {
  it("reads a chunked answer with extensions and trailers, and keeps the connection", async () => {
    const server = await rawServer(always(CHUNKED));
    const t = transport(server.url);
    const res = await get(t);
    expect(res).toMatchObject({ status: 200, text: "Wikipedia in \r\nchunks." });
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.headers["x-trailer"]).toBeUndefined();
    await get(t);
    expect(server.sockets).toHaveLength(1);
  });

  it("reads a content-length answer and reuses one connection for N sequential requests", async () => {
    const server = await rawServer(always('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}'));
    const t = transport(server.url);
    for (let i = 0; i < 10; i++) await expect(get(t)).resolves.toMatchObject({ text: '{"ok":true}' });
    expect(server.requests).toHaveLength(10);
    expect(server.sockets).toHaveLength(1);
    expect(server.requests.map((r) => r.onConnection)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("reads an answer without length until the server closes, then uses a new connection", async () => {
    const server = await rawServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread ");
      setTimeout(() => socket.end("until close"), 20);
    });
    const t = transport(server.url);
    await expect(get(t)).resolves.toMatchObject({ status: 200, text: "read until close" });
    await expect(get(t)).resolves.toMatchObject({ text: "read until close" });
    expect(server.sockets).toHaveLength(2);
  });

  it("reads a 204 with no body and keeps the connection", async () => {
    const server = await rawServer(always("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"));
    const t = transport(server.url);
    await expect(get(t)).resolves.toMatchObject({ status: 204, text: "", headers: { "x-a": "1" } });
    await expect(get(t)).resolves.toMatchObject({ status: 204 });
    expect(server.sockets).toHaveLength(1);
  });

  it("skips a 100 Continue and returns the final answer", async () => {
    const server = await rawServer((_req, socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      setTimeout(() => socket.write("HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"), 10);
    });
    const t = transport(server.url);
    await expect(
      t.request({ method: "POST", path: "/", headers: {}, body: "{}", timeoutMs: 2_000 }),
    ).resolves.toMatchObject({ status: 201, text: "done" });
    await get(t);
    expect(server.sockets).toHaveLength(1);
  });

  it("reads the same answer when it arrives one byte at a time", async () => {
    const bytes = Buffer.from(CHUNKED, "latin1");
    const server = await rawServer((_req, socket) => {
      void writeInPieces(socket, bytes, new Array<number>(bytes.length).fill(1));
    });
    const t = transport(server.url);
    await expect(get(t, { timeoutMs: 10_000 })).resolves.toMatchObject({ text: "Wikipedia in \r\nchunks." });
    await get(t, { timeoutMs: 10_000 });
    expect(server.sockets).toHaveLength(1);
  });

  it("reads the same answers when they arrive cut at random points", async () => {
    const next = seededRandom(7_031_977);
    const answers = [
      Buffer.from(CHUNKED, "latin1"),
      Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${OK}`, "latin1"),
      Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${"é".repeat(150)}`, "utf8"),
    ];
    const server = await rawServer((_req, socket, index) => {
      const bytes = answers[index % answers.length]!;
      const pieces: number[] = [];
      for (let left = bytes.length; left > 0; ) {
        const n = Math.min(left, 1 + Math.floor(next() * 40));
        pieces.push(n);
        left -= n;
      }
      void writeInPieces(socket, bytes, pieces);
    });
    const t = transport(server.url);
    for (let round = 0; round < 4; round++) {
      expect((await get(t, { timeoutMs: 10_000 })).text).toBe("Wikipedia in \r\nchunks.");
      expect((await get(t, { timeoutMs: 10_000 })).text).toBe("ok");
      expect((await get(t, { timeoutMs: 10_000 })).text).toBe("é".repeat(150));
    }
    expect(server.sockets).toHaveLength(1);
  });

  it("refuses conflicting content-lengths as a malformed answer and drops the connection", async () => {
    const server = await rawServer(
      always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"),
    );
    const t = transport(server.url);
    const err = await failure(get(t));
    expect(err.kind).toBe("network");
    expect(err.message).toMatch(/malformed.*conflicting content-length/);
    await sleep(30);
    expect(server.closedConnections).toEqual([0]);
  });

  it("refuses headers larger than 64 KiB", async () => {
    const server = await rawServer(
      always(`HTTP/1.1 200 OK\r\nX-Big: ${"b".repeat(70 * 1024)}\r\nContent-Length: 0\r\n\r\n`),
    );
    const err = await failure(get(transport(server.url)));
    expect(err.kind).toBe("network");
    expect(err.message).toMatch(/headers larger than 65536 bytes/);
  });

  it("does not reuse a connection after Connection: close: the server sees a second connection", async () => {
    const server = await rawServer(
      always("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
    );
    const t = transport(server.url);
    await get(t);
    await get(t);
    expect(server.sockets).toHaveLength(2);
    expect(server.requests.map((r) => r.connection)).toEqual([0, 1]);
  });

  it("does not reuse a connection when the request asked to close it", async () => {
    const server = await rawServer(always(OK));
    const t = transport(server.url);
    for (let i = 0; i < 2; i++) {
      await t.request({ method: "GET", path: "/", headers: { connection: "close" }, timeoutMs: 2_000 });
    }
    expect(server.sockets).toHaveLength(2);
  });

  it("does not reuse an HTTP/1.0 connection without keep-alive, and reuses one with it", async () => {
    const server = await rawServer((req, socket) =>
      socket.write(
        req.connection === 0
          ? "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
          : "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
      ),
    );
    const t = transport(server.url);
    for (let i = 0; i < 3; i++) await get(t);
    expect(server.requests.map((r) => r.connection)).toEqual([0, 1, 1]);
  });

  it("does not reuse a connection that sent bytes after a complete answer", async () => {
    const server = await rawServer(always(`${OK}HTTP/1.1 200 OK\r\n`));
    const t = transport(server.url);
    await expect(get(t)).resolves.toMatchObject({ text: "ok" });
    await expect(get(t)).resolves.toMatchObject({ text: "ok" });
    expect(server.sockets).toHaveLength(2);
  });

  it("drops an idle connection the server closed, and sends the next request on a new one", async () => {
    const server = await rawServer((_req, socket) => socket.end(OK));
    const t = transport(server.url);
    await get(t);
    await sleep(50);
    await expect(get(t)).resolves.toMatchObject({ text: "ok" });
    expect(server.sockets).toHaveLength(2);
  });

  it("resends once on a new connection when a reused one closes before any answer, only when allowed", async () => {
    // the server answers the first request of a connection and closes it on the second, without a byte
    const server = await rawServer((req, socket) => {
      if (req.onConnection === 0) socket.write(OK);
      else socket.end();
    });
    const t = transport(server.url);
    await get(t);
    const err = await failure(get(t));
    expect(err).toMatchObject({ kind: "network", code: "ECONNRESET", reusedSocket: true });
    expect(server.requests).toHaveLength(2);

    await get(t); // a new connection (2nd), now pooled
    await expect(get(t, { resendOnStaleReuse: true })).resolves.toMatchObject({ text: "ok" });
    expect(server.requests.map((r) => [r.connection, r.onConnection])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [2, 0],
    ]);
  });

  it("resends at most once: a fresh connection that fails too ends the request", async () => {
    const server = await rawServer((req, socket) => {
      if (req.connection === 0 && req.onConnection === 0) socket.write(OK);
      else socket.end();
    });
    const t = transport(server.url);
    await get(t);
    const err = await failure(get(t, { resendOnStaleReuse: true }));
    expect(err).toMatchObject({ kind: "network", code: "ECONNRESET", reusedSocket: false });
    expect(server.requests).toHaveLength(3);
  });

  it("does not resend when part of the answer had arrived", async () => {
    const server = await rawServer((req, socket) => {
      if (req.onConnection === 0) socket.write(OK);
      else socket.end("HTTP/1.1 200 OK\r\nContent-Le");
    });
    const t = transport(server.url);
    await get(t);
    const err = await failure(get(t, { resendOnStaleReuse: true }));
    expect(err).toMatchObject({ kind: "network", code: "ECONNRESET", reusedSocket: true });
    expect(err.message).toMatch(/closed before the whole answer/);
    expect(server.requests).toHaveLength(2);
  });

  it("fails with timeout when the server stalls mid-body, and destroys that connection", async () => {
    const server = await rawServer(always("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"));
    const t = transport(server.url);
    const started = performance.now();
    const err = await failure(get(t, { timeoutMs: 200 }));
    expect(err.kind).toBe("timeout");
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    await sleep(30);
    expect(server.closedConnections).toEqual([0]);
  });

  it("fails with too-large for a body over maxResponseBytes, chunked or not, and drops the connection", async () => {
    const server = await rawServer((req, socket) =>
      socket.write(
        req.connection === 0
          ? `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${"x".repeat(1024)}\r\n0\r\n\r\n`
          : `HTTP/1.1 200 OK\r\n\r\n${"y".repeat(2_000)}`,
      ),
    );
    const t = transport(server.url, 1_000);
    const chunked = await failure(get(t));
    expect(chunked.kind).toBe("too-large");
    expect(chunked.message).toContain("1000 bytes");
    expect((await failure(get(t))).kind).toBe("too-large");
    await sleep(30);
    expect(server.closedConnections.sort()).toEqual([0, 1]);
  });

  it("writes the request line, host, headers and a UTF-8 content-length, nothing chunked", async () => {
    const server = await rawServer(always(OK));
    await transport(`${server.url}/base`).request({
      method: "PUT",
      path: "/a%20b?c=d",
      headers: { authorization: "Bearer t", "content-length": "999" },
      body: "ü",
      timeoutMs: 2_000,
    });
    await transport(server.url).request({ method: "POST", path: "/empty", headers: {}, timeoutMs: 2_000 });
    expect(server.requests[0]?.head.split("\r\n")).toEqual([
      "PUT /base/a%20b?c=d HTTP/1.1",
      `host: 127.0.0.1:${server.port}`,
      "authorization: Bearer t",
      "content-length: 2",
    ]);
    expect(server.requests[0]?.body).toBe("ü");
    expect(server.requests[1]?.head).toContain("\r\ncontent-length: 0");
  });

  it("reads no body for the answer to HEAD", async () => {
    const server = await rawServer(always("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"));
    const t = transport(server.url);
    await expect(
      t.request({ method: "HEAD", path: "/", headers: {}, timeoutMs: 2_000 }),
    ).resolves.toMatchObject({ status: 200, text: "" });
    await t.request({ method: "HEAD", path: "/", headers: {}, timeoutMs: 2_000 });
    expect(server.sockets).toHaveLength(1);
  });

  it("refuses a header value that would split the request, sending nothing", async () => {
    const server = await rawServer(always(OK));
    const t = transport(server.url);
    await expect(
      t.request({ method: "GET", path: "/", headers: { "x-a": "1\r\nx-b: 2" }, timeoutMs: 2_000 }),
    ).rejects.toThrow(/"x-a" is not allowed/);
    await expect(t.request({ method: "GET", path: "/a b", headers: {}, timeoutMs: 2_000 })).rejects.toThrow(
      /escaped/,
    );
    await sleep(20);
    expect(server.sockets).toHaveLength(0);
  });

  it("keeps no process alive with an idle pool", async () => {
    const server = await rawServer(always(OK));
    const module = fileURLToPath(new URL("../../src/control-plane/transport.ts", import.meta.url));
    const script = `
      const { createHttpTransport } = await import(${JSON.stringify(module)});
      const t = createHttpTransport({ baseUrl: ${JSON.stringify(server.url)}, freeSocketTimeoutMs: 30000 });
      await t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 5000 });
      console.log("answered");
    `;
    const started = performance.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000 }, (err, out) =>
        err ? reject(err) : resolve(out),
      );
    });
    expect(stdout.trim()).toBe("answered");
    expect(performance.now() - started).toBeLessThan(8_000);
    expect(server.requests).toHaveLength(1);
  });
});
