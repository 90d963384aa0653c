/**
 * The heartbeat thread's HTTP sender: one `POST /v1/runners/{id}/heart-beats` per call over the control-plane
 * transport (../control-plane/transport.ts: HTTP/1.1 on keep-alive net/tls sockets, nothing else loaded), the
 * runner's headers (Bearer token, `X-Nuon-Client-Version`), a deadline covering the whole exchange, and TLS
 * verification unless `tlsInsecure`. It answers only "acknowledged or not": the thread has no use for the
 * answer's body, so the control-plane client (zod and every wire schema, a second copy in the thread's
 * isolate) is not loaded there. No retries: the next beat is the retry — except at once when a kept-alive
 * connection turns out to have been closed by the server (ECONNRESET on reuse): a beat is safe to resend.
 */
import { codeForStatus } from "../control-plane/errors.ts";
import { createHttpTransport, TransportError } from "../control-plane/transport.ts";
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
  /** PEM certificate authorities trusted instead of Node's bundled roots (tests); default none. */
  ca?: string | readonly string[];
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
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError("heartbeats need an http(s) baseUrl");
  }
  const transport = createHttpTransport({
    baseUrl: options.baseUrl,
    ...(options.tlsInsecure !== undefined ? { tlsInsecure: options.tlsInsecure } : {}),
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
  });
  const path = `/v1/runners/${encodeURIComponent(options.runnerId)}/heart-beats`;
  const version = options.version ?? VERSION;
  const headers = {
    authorization: `Bearer ${options.token}`,
    "x-nuon-client-version": `runner:${version}`,
    "user-agent": `runner/${version}`,
    accept: "application/json",
    "content-type": "application/json",
  };
  const scrub = (text: string) => (options.token ? text.replaceAll(options.token, "[redacted]") : text);
  const where = `POST ${base.pathname.replace(/\/+$/, "")}${path}`;

  function failure(err: unknown, timeoutMs: number): HeartbeatError {
    if (err instanceof TransportError && err.kind === "timeout") {
      return new HeartbeatError(
        "TIMEOUT",
        `heartbeat: ${where} got no complete answer within ${timeoutMs} ms`,
      );
    }
    if (err instanceof TransportError && err.kind === "closed") {
      return new HeartbeatError("ABORTED", "heartbeat: the sender was closed; the beat was not completed");
    }
    const reason = err instanceof Error ? err.message : String(err);
    const errCode = (err as { code?: unknown } | null)?.code;
    const code = typeof errCode === "string" ? ` (${errCode})` : "";
    return new HeartbeatError(
      "NETWORK",
      scrub(`heartbeat: ${where} failed at the connection level: ${reason}${code}`),
      undefined,
      err,
    );
  }

  return {
    async send(body, timeoutMs) {
      let status: number;
      let text: string;
      try {
        ({ status, text } = await transport.request({
          method: "POST",
          path,
          headers,
          body: JSON.stringify(body),
          timeoutMs,
          resendOnStaleReuse: true,
        }));
      } catch (err) {
        throw failure(err, timeoutMs);
      }
      if (status >= 200 && status < 300) return;
      const oneLine = scrub(text).replace(/\s+/g, " ").trim();
      const quoted = oneLine.length > MAX_QUOTED_CHARS ? `${oneLine.slice(0, MAX_QUOTED_CHARS)}…` : oneLine;
      throw new HeartbeatError(
        codeForStatus(status),
        `heartbeat: ${where} answered ${status}${quoted ? ` (${quoted})` : ""}`,
        status,
      );
    },
    close() {
      transport.close();
    },
  };
}
