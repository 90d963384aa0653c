/**
 * A small keep-alive HTTP(S)/1.1 transport to one origin, written directly on net/tls sockets: one request is
 * a method, a path, headers, an optional body and a deadline that covers connect, send and the whole answer,
 * ended early by an AbortSignal or by `close()`. It answers with the status, the headers and the body as
 * text, whatever the status; what a status means is the caller's business (http.ts, heartbeat-sender.ts,
 * control-plane-export.ts). The answer is read by http1-parser.ts (strict; anything odd drops the
 * connection). node:http's ClientRequest/Agent/IncomingMessage machinery cost about five times the CPU of
 * this for the small JSON exchanges the runner makes.
 *
 * It imports nothing at run time but its parser (no undici, no zod): the heartbeat worker thread loads it too
 * and must stay slim. node:net and node:tls are taken with `process.getBuiltinModule`, because an ESM
 * `import` of a builtin also evaluates its lazy exports (for node:http: WebSocket, fetch's undici), several MB
 * that a plain request never uses.
 *
 * Connections are pooled per transport (LIFO: the most recently used idle one first; a new one when none is
 * idle). Idle ones are unref'd and closed after `freeSocketTimeoutMs` (default 4 s, under the usual 5 s of a
 * server's keep-alive), so an idle pool neither outlives its use by long nor keeps the process alive. A
 * connection goes back to the pool only after a complete answer that did not ask to close it and was not
 * delimited by close, with no extra bytes after it; after a timeout, an abort or an error it is destroyed.
 * A request that fails because a reused keep-alive connection was reset (or closed) before any byte of the
 * answer arrived is sent again, once, on a new connection, only when the caller says that is safe
 * (`resendOnStaleReuse`); otherwise it fails like any other connection error, keeping its system `code`
 * (ECONNRESET, ECONNREFUSED, …) so retry.ts can tell a request that never left this machine.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { hasToken, type ParsedResponse, ResponseParseError, ResponseParser } from "./http1-parser.ts";

/** Options of `createHttpTransport`. */
export interface HttpTransportOptions {
  /** The origin and optional base path, http(s); request paths are appended to the base path. */
  baseUrl: string;
  /** Skip TLS certificate verification; default false. */
  tlsInsecure?: boolean;
  /** PEM certificate authorities trusted instead of Node's bundled roots (tests, private CAs); default none. */
  ca?: string | readonly string[];
  /** Idle keep-alive sockets are closed after this many milliseconds; default 4_000. */
  freeSocketTimeoutMs?: number;
  /** Largest response body read, in bytes; a larger one fails with `too-large`; default 64 MiB. */
  maxResponseBytes?: number;
}

/** One request. */
export interface TransportRequest {
  method: string;
  /** Path and query, already encoded, starting with `/`; appended to the base URL's path. */
  path: string;
  /** Request headers (lower-case names); content-length is added for a body. */
  headers: Readonly<Record<string, string>>;
  body?: string | Uint8Array | undefined;
  /** Deadline of the whole exchange (connect, headers, body, resends), in milliseconds. */
  timeoutMs: number;
  /** Ends the request with `aborted` when it fires. */
  signal?: AbortSignal | undefined;
  /** Send again (within the deadline) when a reused keep-alive connection is reset before any answer; default false. */
  resendOnStaleReuse?: boolean;
}

/** An answer, whatever its status. */
export interface TransportResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body decoded as UTF-8. */
  text: string;
}

/** Why a request failed: its deadline, its signal, `close()`, the connection, or an oversized body. */
export type TransportErrorKind = "timeout" | "aborted" | "closed" | "network" | "too-large";

/** A failed request. `code` is the system error code of a connection failure (ECONNREFUSED, ECONNRESET…). */
export class TransportError extends Error {
  override readonly name = "TransportError";
  readonly kind: TransportErrorKind;
  /** The system error code of a `network` failure, when it had one (ECONNREFUSED, ECONNRESET, a TLS code). */
  readonly code: string | undefined;
  /** True when the request went out on a kept-alive connection that had already served a request. */
  readonly reusedSocket: boolean;
  constructor(
    kind: TransportErrorKind,
    message: string,
    cause?: unknown,
    code?: string,
    reusedSocket = false,
  ) {
    super(message, { cause });
    this.kind = kind;
    this.code = code;
    this.reusedSocket = reusedSocket;
  }
}

/** Sends requests to one origin over a keep-alive agent it owns. */
export interface HttpTransport {
  /** Sends one request; rejects with a TransportError, never with anything else. */
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Ends requests in flight (`closed`) and destroys every connection; later requests fail at once. Idempotent. */
  close(): void;
}

/** Defaults of the optional options. */
export const TRANSPORT_DEFAULTS = {
  freeSocketTimeoutMs: 4_000,
  maxResponseBytes: 64 * 1024 * 1024,
} as const;

/** Longest delay setTimeout honours, in milliseconds; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
/** Largest status line plus headers of an answer, in bytes. */
const MAX_HEADER_BYTES = 64 * 1024;
/** A method or header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A character not allowed in a header value (what node:http refuses too). */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** A character not allowed in a request target (what node:http refuses too). */
const INVALID_PATH_CHAR = /[^\u0021-\u00ff]/;
/** Methods whose request without a body still says `content-length: 0` (as node:http does). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** One pooled connection. */
interface Conn {
  socket: Socket;
  /** True once it has served a request: a later request on it goes out on a reused connection. */
  used: boolean;
  /** The request reading from it; undefined while idle. */
  exchange: Exchange | undefined;
  /** Closes it when it stays idle too long (unref'd). */
  idleTimer: NodeJS.Timeout | undefined;
}

/** What a connection tells the request using it. */
interface Exchange {
  onData(chunk: Buffer): void;
  /** The connection ended (`err` undefined: the server closed it) and is already destroyed. */
  onGone(err: NodeJS.ErrnoException | undefined): void;
}

/** Creates a transport; throws a TypeError when `baseUrl` is not an http(s) URL. */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = new URL(options.baseUrl);
  const secure = base.protocol === "https:";
  if (!secure && base.protocol !== "http:") {
    throw new TypeError(`createHttpTransport: baseUrl must be http(s) (got a ${base.protocol} URL)`);
  }
  const basePath = base.pathname.replace(/\/+$/, "");
  const hostname = base.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = base.port === "" ? (secure ? 443 : 80) : Number(base.port);
  const hostHeader = base.host;
  const limits = {
    maxHeaderBytes: MAX_HEADER_BYTES,
    maxBodyBytes: options.maxResponseBytes ?? TRANSPORT_DEFAULTS.maxResponseBytes,
  };
  const freeSocketTimeoutMs = options.freeSocketTimeoutMs ?? TRANSPORT_DEFAULTS.freeSocketTimeoutMs;
  const net = process.getBuiltinModule("node:net");
  const tls = secure ? process.getBuiltinModule("node:tls") : undefined;
  const servername = net.isIP(hostname) === 0 ? hostname : undefined;
  /** Every open connection, busy or idle. */
  const conns = new Set<Conn>();
  /** Idle connections, the most recently used last. */
  const idle: Conn[] = [];
  /** The last TLS session the server gave, to resume with on the next new connection. */
  let tlsSession: Buffer | undefined;
  /** The `fail` of every request in flight, for close(). */
  const inFlight = new Set<(err: TransportError) => void>();
  let closed = false;

  function open(): Conn {
    const socket: Socket =
      tls !== undefined
        ? tls.connect({
            host: hostname,
            port,
            ...(servername !== undefined ? { servername } : {}),
            rejectUnauthorized: options.tlsInsecure !== true,
            ...(options.ca !== undefined ? { ca: options.ca as string | string[] } : {}),
            ALPNProtocols: ["http/1.1"],
            ...(tlsSession !== undefined ? { session: tlsSession } : {}),
          })
        : net.connect({ host: hostname, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1_000);
    const conn: Conn = { socket, used: false, exchange: undefined, idleTimer: undefined };
    conns.add(conn);
    socket.on("data", (chunk: Buffer) => {
      if (conn.exchange !== undefined) conn.exchange.onData(chunk);
      else destroy(conn); // bytes nobody asked for on an idle connection: it cannot be trusted
    });
    socket.on("end", () => gone(conn, undefined));
    socket.on("close", () => gone(conn, undefined));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (tls !== undefined) tlsSession = undefined;
      gone(conn, err);
    });
    if (tls !== undefined) {
      socket.on("session", (session: Buffer) => {
        tlsSession = session;
      });
    }
    return conn;
  }

  /** An idle connection (reused) or, when none is or `fresh`, a new one. */
  function take(fresh: boolean): Conn {
    const conn = fresh ? undefined : idle.pop();
    if (conn === undefined) return open();
    clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    conn.socket.ref();
    return conn;
  }

  function release(conn: Conn): void {
    conn.exchange = undefined;
    conn.used = true;
    if (closed || conn.socket.destroyed) {
      destroy(conn);
      return;
    }
    conn.socket.unref();
    conn.idleTimer = setTimeout(() => destroy(conn), freeSocketTimeoutMs);
    conn.idleTimer.unref();
    idle.push(conn);
  }

  function forget(conn: Conn): void {
    conns.delete(conn);
    clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
    const at = idle.lastIndexOf(conn);
    if (at !== -1) idle.splice(at, 1);
  }

  function destroy(conn: Conn): void {
    conn.exchange = undefined;
    forget(conn);
    conn.socket.destroy();
  }

  /** The connection ended or failed: drop it and tell its request, if any. */
  function gone(conn: Conn, err: NodeJS.ErrnoException | undefined): void {
    const exchange = conn.exchange;
    destroy(conn);
    exchange?.onGone(err);
  }

  function request(r: TransportRequest): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      if (closed) return reject(new TransportError("closed", "the transport is closed; nothing was sent"));
      const signal = r.signal;
      if (signal?.aborted) return reject(abortError(signal.reason));
      const payload = serialize(r, `${basePath}${r.path}`, hostHeader); // throws a TypeError for bad input
      const expectBody = r.method !== "HEAD";
      const connection = r.headers.connection;
      const requestCloses = connection !== undefined && hasToken(connection.toLowerCase(), "close");
      let conn: Conn | undefined;
      let parser: ResponseParser | undefined;
      let reused = false;
      let resent = false;
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        inFlight.delete(fail);
      };
      const fail = (err: TransportError) => {
        if (settled) return;
        settle();
        const c = conn;
        conn = undefined;
        if (c !== undefined) destroy(c);
        reject(err);
      };
      const finish = (res: ParsedResponse) => {
        settle();
        const c = conn;
        conn = undefined;
        if (c !== undefined) {
          if (res.keepAlive && !requestCloses && res.trailingBytes === 0) release(c);
          else destroy(c);
        }
        resolve({
          status: res.status,
          headers: res.headers as IncomingHttpHeaders,
          text: res.body.toString("utf8"),
        });
      };
      const exchange: Exchange = {
        onData(chunk) {
          if (settled || parser === undefined) return;
          let res: ParsedResponse | undefined;
          try {
            res = parser.push(chunk);
          } catch (err) {
            fail(parseFailure(err, reused));
            return;
          }
          if (res !== undefined) finish(res);
        },
        onGone(err) {
          conn = undefined;
          if (settled || parser === undefined) return;
          if (err === undefined) {
            const res = parser.end(); // an answer delimited by close is complete now
            if (res !== undefined) {
              finish(res);
              return;
            }
          }
          const stale = err === undefined || err.code === "ECONNRESET" || err.code === "EPIPE";
          if (stale && reused && !parser.started && r.resendOnStaleReuse === true && !resent) {
            // a kept-alive connection the server closed meanwhile: the request got no answer; send it again
            resent = true;
            send(true);
            return;
          }
          fail(
            err !== undefined
              ? networkError(err, reused)
              : new TransportError(
                  "network",
                  "the connection closed before the whole answer arrived",
                  undefined,
                  "ECONNRESET",
                  reused,
                ),
          );
        },
      };
      const onAbort = () => fail(abortError(signal?.reason));
      const timeoutMs = Math.min(MAX_TIMER_MS, Math.max(1, r.timeoutMs));
      const timer = setTimeout(
        () => fail(new TransportError("timeout", `no complete answer within ${r.timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      inFlight.add(fail);

      const send = (fresh: boolean) => {
        parser = new ResponseParser(limits, expectBody);
        const c = take(fresh);
        reused = c.used;
        c.exchange = exchange;
        conn = c;
        if (typeof payload === "string") c.socket.write(payload, "latin1");
        else c.socket.write(payload);
      };
      send(false);
    });
  }

  return {
    request,
    close() {
      if (closed) return;
      closed = true;
      const err = new TransportError("closed", "the transport was closed; the request was not completed");
      for (const fail of [...inFlight]) fail(err);
      for (const conn of [...conns]) destroy(conn);
    },
  };
}

/**
 * The bytes of a request: request line, `host`, the caller's headers, `content-length` for a body (or for a
 * POST/PUT/PATCH without one), the body. A string without a body (latin1), else one Buffer. Throws a TypeError
 * for a method, path or header that HTTP does not allow (nothing is sent; values are never quoted).
 */
function serialize(r: TransportRequest, target: string, hostHeader: string): string | Buffer {
  if (!TOKEN.test(r.method)) throw new TypeError("the request method is not an HTTP token; nothing was sent");
  if (INVALID_PATH_CHAR.test(target)) {
    throw new TypeError("the request path holds characters that must be escaped; nothing was sent");
  }
  let lines = "";
  let hasHost = false;
  for (const name of Object.keys(r.headers)) {
    const value = r.headers[name];
    if (!TOKEN.test(name))
      throw new TypeError("a request header name is not an HTTP token; nothing was sent");
    if (typeof value !== "string" || INVALID_VALUE_CHAR.test(value)) {
      throw new TypeError(`the value of request header "${name}" is not allowed in HTTP; nothing was sent`);
    }
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") continue;
    if (lower === "host") hasHost = true;
    lines += `${name}: ${value}\r\n`;
  }
  let head = `${r.method} ${target} HTTP/1.1\r\n${hasHost ? "" : `host: ${hostHeader}\r\n`}${lines}`;
  const body = r.body;
  if (body === undefined) {
    return BODY_METHODS.has(r.method) ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`;
  }
  const bodyBytes = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
  head += `content-length: ${bodyBytes}\r\n\r\n`;
  const out = Buffer.allocUnsafe(head.length + bodyBytes);
  out.write(head, 0, "latin1");
  if (typeof body === "string") out.write(body, head.length, "utf8");
  else out.set(body, head.length);
  return out;
}

function parseFailure(err: unknown, reusedSocket: boolean): TransportError {
  if (err instanceof ResponseParseError) {
    if (err.kind === "too-large") return new TransportError("too-large", err.message, err);
    return new TransportError(
      "network",
      `${err.message}; the connection was dropped`,
      err,
      undefined,
      reusedSocket,
    );
  }
  return new TransportError("network", "the answer could not be read", err, undefined, reusedSocket);
}

function abortError(reason: unknown): TransportError {
  return new TransportError("aborted", "the request was aborted by its signal", reason);
}

function networkError(err: NodeJS.ErrnoException, reusedSocket: boolean): TransportError {
  const code = typeof err.code === "string" ? err.code : undefined;
  return new TransportError("network", err.message, err, code, reusedSocket);
}
