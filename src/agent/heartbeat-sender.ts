/**
 * The heartbeat thread's HTTP sender: one `POST /v1/runners/{id}/heart-beats` per call over node:http(s) with
 * a keep-alive agent, the runner's headers (Bearer token, `X-Nuon-Client-Version`), a deadline covering the
 * whole exchange, and TLS verification unless `tlsInsecure`. It answers only "acknowledged or not": the
 * thread has no use for the answer's body, so the control-plane client (undici, zod and every wire schema, a
 * second copy in the thread's isolate) is not loaded there. No retries: the next beat is the retry — except
 * once at once when a kept-alive connection turns out to have been closed by the server (ECONNRESET on reuse).
 *
 * node:http is taken with `process.getBuiltinModule`: an ESM `import` of node:http also evaluates its lazy
 * exports (WebSocket, fetch's undici), several MB per isolate that a heartbeat never uses.
 */
import type { ClientRequest, Agent as HttpAgent, IncomingMessage, RequestOptions } from "node:http";
import { codeForStatus } from "../control-plane/errors.ts";
import { VERSION } from "../version.ts";

/** Where and as whom the beats are sent. The token stays in memory and never appears in an error. */
export interface HeartbeatSenderOptions {
  /** The control plane's base URL, http(s). */
  baseUrl: string;
  token: string;
  runnerId: string;
  /** Sent as `X-Nuon-Client-Version: runner:<version>`; default VERSION. */
  version?: string;
  /** Skip TLS certificate verification; default false. */
  tlsInsecure?: boolean;
}

/** Sends beats. */
export interface HeartbeatSender {
  /** Posts `body` as JSON; resolves on a 2xx, rejects with an Error carrying `code` (and `status`) otherwise. */
  send(body: object, timeoutMs: number): Promise<void>;
  /** Closes idle connections; beats in flight are cut. */
  close(): void;
}

/** An error of one beat: `code` as the control-plane client's (TIMEOUT, NETWORK, UNAUTHORIZED, …). */
export class HeartbeatError extends Error {
  override readonly name = "HeartbeatError";
  readonly code: string;
  readonly status: number | undefined;
  constructor(code: string, message: string, status?: number, cause?: unknown) {
    super(message, { cause });
    this.code = code;
    this.status = status;
  }
}

/** Longest excerpt of an error answer quoted in a message, in characters. */
const MAX_QUOTED_CHARS = 200;

/** Creates a sender; throws a TypeError when `baseUrl` is not an http(s) URL. */
export function createHeartbeatSender(options: HeartbeatSenderOptions): HeartbeatSender {
  const base = new URL(options.baseUrl);
  const secure = base.protocol === "https:";
  if (!secure && base.protocol !== "http:") throw new TypeError("heartbeats need an http(s) baseUrl");
  const path = `${base.pathname.replace(/\/+$/, "")}/v1/runners/${encodeURIComponent(options.runnerId)}/heart-beats`;
  const version = options.version ?? VERSION;
  const http = secure ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
  const agent: HttpAgent = secure
    ? new (process.getBuiltinModule("node:https").Agent)({
        keepAlive: true,
        rejectUnauthorized: options.tlsInsecure !== true,
      })
    : new (process.getBuiltinModule("node:http").Agent)({ keepAlive: true });
  const scrub = (text: string) => (options.token ? text.replaceAll(options.token, "[redacted]") : text);
  const where = `POST ${path}`;

  function attempt(data: string, deadlineAt: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let req: ClientRequest | undefined;
      let settled = false;
      const finish = (err?: HeartbeatError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      const timeoutMs = Math.max(1, deadlineAt - performance.now());
      const timer = setTimeout(() => {
        finish(
          new HeartbeatError("TIMEOUT", `heartbeat: ${where} got no complete answer within ${timeoutMs} ms`),
        );
        req?.destroy();
      }, timeoutMs);
      const requestOptions: RequestOptions = {
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: base.port === "" ? undefined : Number(base.port),
        method: "POST",
        path,
        agent,
        headers: {
          authorization: `Bearer ${options.token}`,
          "x-nuon-client-version": `runner:${version}`,
          "user-agent": `runner/${version}`,
          accept: "application/json",
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
        },
      };
      req = http.request(requestOptions, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => {
          if (status >= 300) chunks.push(chunk);
        });
        res.on("error", (err) => finish(networkError(err)));
        res.on("end", () => {
          if (status >= 200 && status < 300) return finish();
          const text = scrub(Buffer.concat(chunks).toString("utf8")).replace(/\s+/g, " ").trim();
          const quoted = text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text;
          finish(
            new HeartbeatError(
              codeForStatus(status),
              `heartbeat: ${where} answered ${status}${quoted ? ` (${quoted})` : ""}`,
              status,
            ),
          );
        });
      });
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // a kept-alive connection the server closed meanwhile: the request never reached it; send it again
        if (req?.reusedSocket === true && err.code === "ECONNRESET" && performance.now() < deadlineAt) {
          settled = true;
          clearTimeout(timer);
          attempt(data, deadlineAt).then(resolve, reject);
          return;
        }
        finish(networkError(err));
      });
      req.end(data);
    });
  }

  function networkError(err: NodeJS.ErrnoException): HeartbeatError {
    const code = typeof err.code === "string" ? ` (${err.code})` : "";
    return new HeartbeatError(
      "NETWORK",
      scrub(`heartbeat: ${where} failed at the connection level: ${err.message}${code}`),
      undefined,
      err,
    );
  }

  return {
    send(body, timeoutMs) {
      return attempt(JSON.stringify(body), performance.now() + timeoutMs);
    },
    close() {
      agent.destroy();
    },
  };
}
