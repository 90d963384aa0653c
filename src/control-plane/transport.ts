/**
 * A small keep-alive HTTP(S) transport to one origin, over Node's built-in http/https (native llhttp): one
 * request is a method, a path, headers, an optional body and a deadline that covers connect, headers and
 * body, ended early by an AbortSignal or by `close()`. It answers with the status, the headers and the body
 * as text, whatever the status; what a status means is the caller's business (http.ts, heartbeat-sender.ts,
 * control-plane-export.ts).
 *
 * It imports nothing at run time (no undici, no zod): the heartbeat worker thread loads it too and must stay
 * slim. node:http(s) are taken with `process.getBuiltinModule`, because an ESM `import` of them also
 * evaluates their lazy exports (WebSocket, fetch's undici), several MB that a plain request never uses.
 *
 * Idle keep-alive sockets are closed after `freeSocketTimeoutMs` (default 4 s, under the usual 5 s of a
 * server's keep-alive), so none outlives its use by long. A request that fails because a reused keep-alive
 * connection was reset before any answer arrived is sent again only when the caller says that is safe
 * (`resendOnStaleReuse`); otherwise it fails like any other connection error, keeping its system `code`
 * (ECONNRESET, ECONNREFUSED, …) so retry.ts can tell a request that never left this machine.
 */
import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from "node:http";

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

/** Creates a transport; throws a TypeError when `baseUrl` is not an http(s) URL. */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = new URL(options.baseUrl);
  const secure = base.protocol === "https:";
  if (!secure && base.protocol !== "http:") {
    throw new TypeError(`createHttpTransport: baseUrl must be http(s) (got a ${base.protocol} URL)`);
  }
  const basePath = base.pathname.replace(/\/+$/, "");
  const hostname = base.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = base.port === "" ? undefined : Number(base.port);
  const maxResponseBytes = options.maxResponseBytes ?? TRANSPORT_DEFAULTS.maxResponseBytes;
  const timeout = options.freeSocketTimeoutMs ?? TRANSPORT_DEFAULTS.freeSocketTimeoutMs;
  const http = secure ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
  const agent: Agent = secure
    ? new (process.getBuiltinModule("node:https").Agent)({
        keepAlive: true,
        timeout,
        rejectUnauthorized: options.tlsInsecure !== true,
        ...(options.ca !== undefined ? { ca: options.ca as string | string[] } : {}),
      })
    : new (process.getBuiltinModule("node:http").Agent)({ keepAlive: true, timeout });
  /** The `fail` of every request in flight, for close(). */
  const inFlight = new Set<(err: TransportError) => void>();
  let closed = false;

  function request(r: TransportRequest): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      if (closed) return reject(new TransportError("closed", "the transport is closed; nothing was sent"));
      const signal = r.signal;
      if (signal?.aborted) return reject(abortError(signal.reason));
      let current: ClientRequest | undefined;
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
        reject(err);
        current?.destroy();
      };
      const onAbort = () => fail(abortError(signal?.reason));
      const timeoutMs = Math.min(MAX_TIMER_MS, Math.max(1, r.timeoutMs));
      const timer = setTimeout(
        () => fail(new TransportError("timeout", `no complete answer within ${r.timeoutMs} ms`)),
        timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      inFlight.add(fail);
      const requestOptions: RequestOptions = {
        hostname,
        port,
        method: r.method,
        path: `${basePath}${r.path}`,
        headers: r.headers,
        agent,
      };

      const send = () => {
        let answered = false;
        const req = http.request(requestOptions, (res: IncomingMessage) => {
          answered = true;
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on("data", (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > maxResponseBytes) {
              const limit = `${maxResponseBytes} bytes`;
              fail(
                new TransportError("too-large", `the answer's body is larger than ${limit}; it was not read`),
              );
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            if (settled) return;
            settle();
            const text =
              chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
          });
          res.on("error", (err: NodeJS.ErrnoException) => fail(networkError(err, req.reusedSocket)));
          res.on("close", () => {
            if (!res.complete) {
              fail(
                new TransportError(
                  "network",
                  "the connection closed before the whole answer arrived",
                  undefined,
                  "ECONNRESET",
                  req.reusedSocket,
                ),
              );
            }
          });
        });
        current = req;
        req.on("error", (err: NodeJS.ErrnoException) => {
          if (settled || current !== req) return;
          // a kept-alive connection the server closed meanwhile: the request never got an answer
          if (r.resendOnStaleReuse === true && req.reusedSocket && err.code === "ECONNRESET" && !answered) {
            send();
            return;
          }
          fail(networkError(err, req.reusedSocket));
        });
        if (r.body === undefined) req.end();
        else req.end(r.body);
      };
      send();
    });
  }

  return {
    request,
    close() {
      if (closed) return;
      closed = true;
      const err = new TransportError("closed", "the transport was closed; the request was not completed");
      for (const fail of [...inFlight]) fail(err);
      agent.destroy();
    },
  };
}

function abortError(reason: unknown): TransportError {
  return new TransportError("aborted", "the request was aborted by its signal", reason);
}

function networkError(err: NodeJS.ErrnoException, reusedSocket: boolean): TransportError {
  const code = typeof err.code === "string" ? err.code : undefined;
  return new TransportError("network", err.message, err, code, reusedSocket);
}
