/**
 * One HTTP attempt against the control plane: headers, a deadline that no stalled server can outlive, and the
 * translation of every failure (status, transport error, timeout, abort, unreadable body) into a
 * ControlPlaneError. Retrying is retry.ts's business; which operation calls what is client.ts's.
 */
import type { IncomingHttpHeaders } from "node:http";
import * as z from "zod/mini";
import { ControlPlaneError, codeForStatus } from "./errors.ts";
import { abortedError, parseRetryAfterMs } from "./retry.ts";
import { ErrResponse } from "./schemas.ts";
import { type HttpTransport, TransportError } from "./transport.ts";

/** What every attempt of one client shares. */
export interface HttpContext {
  /** The keep-alive transport to the control plane's origin (its base path included). */
  transport: HttpTransport;
  /** The runner token: sent as a Bearer token, and scrubbed from every error message and error body. */
  token: string;
  /** Headers sent on every request (authorization included). */
  headers: Readonly<Record<string, string>>;
  /** Fires when the client is closed (before it closes the transport): calls in flight end with ABORTED. */
  closeSignal: AbortSignal;
}

/** One request to send. */
export interface HttpRequest {
  operation: string;
  method: "GET" | "POST" | "PATCH" | "PUT";
  /** Path and query, already encoded, starting with `/`. */
  path: string;
  body?: { contentType: string; data: string | Uint8Array };
  /** Deadline of this attempt (connect, headers and body), in milliseconds. */
  timeoutMs: number;
  /** The caller's signal. */
  signal?: AbortSignal | undefined;
  /** Send again at once when a reused keep-alive connection is reset before any answer (operations safe to resend). */
  resendOnStaleReuse?: boolean;
}

/** A 2xx answer: the status and the body as text. */
export interface HttpResponse {
  status: number;
  text: string;
}

/** Longest excerpt of a server's error text quoted in a message, in characters. */
const MAX_QUOTED_CHARS = 300;

/** Sends one attempt; resolves on 2xx, throws a ControlPlaneError on anything else. */
export async function sendOnce(ctx: HttpContext, req: HttpRequest): Promise<HttpResponse> {
  let status: number;
  let headers: IncomingHttpHeaders;
  let text: string;
  try {
    const res = await ctx.transport.request({
      method: req.method,
      path: req.path,
      headers: req.body ? { ...ctx.headers, "content-type": req.body.contentType } : ctx.headers,
      body: req.body?.data,
      timeoutMs: req.timeoutMs,
      signal: req.signal,
      resendOnStaleReuse: req.resendOnStaleReuse === true,
    });
    ({ status, headers, text } = res);
  } catch (err) {
    throw transportError(ctx, req, err);
  }
  if (status >= 200 && status < 300) return { status, text };
  throw statusError(ctx, req, status, headers, text);
}

/** Parses a 2xx body as JSON and checks it against `schema`; BAD_RESPONSE naming the problem otherwise. */
export function parseBody<S extends z.core.$ZodType>(
  operation: string,
  schema: S,
  text: string,
): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ControlPlaneError({
      code: "BAD_RESPONSE",
      operation,
      message: `${operation}: the control plane answered with a body that is not JSON (${quote(text)}); the call failed`,
      cause: err,
    });
  }
  const parsed = z.safeParse(schema, json);
  if (parsed.success) return parsed.data;
  throw new ControlPlaneError({
    code: "BAD_RESPONSE",
    operation,
    message: `${operation}: the control plane's answer does not match the expected shape; the call failed:\n${z.prettifyError(parsed.error)}`,
    cause: parsed.error,
  });
}

function statusError(
  ctx: HttpContext,
  req: HttpRequest,
  status: number,
  headers: IncomingHttpHeaders,
  rawText: string,
): ControlPlaneError {
  const text = scrub(rawText, ctx.token);
  const body = parseErrorBody(text);
  const detail = body?.description || body?.error || (body ? "" : text.trim());
  const code = codeForStatus(status);
  const where = `${req.method} ${pathOnly(req.path)}`;
  const message =
    code === "UNAUTHORIZED"
      ? `${req.operation}: the control plane refused the runner's credentials (${where} answered ${status}): the runner token or runner id is wrong; retrying cannot help, fix the token or runner id`
      : `${req.operation}: ${where} answered ${status}${detail ? ` (${quote(detail)})` : ""}`;
  return new ControlPlaneError({
    code,
    operation: req.operation,
    message,
    status,
    body,
    retryAfterMs: parseRetryAfterMs(headers["retry-after"]),
  });
}

function transportError(ctx: HttpContext, req: HttpRequest, err: unknown): ControlPlaneError {
  const { operation } = req;
  const kind = err instanceof TransportError ? err.kind : "network";
  if (ctx.closeSignal.aborted || kind === "closed") {
    return new ControlPlaneError({
      code: "ABORTED",
      operation,
      message: `${operation}: the control-plane client was closed; the call was not completed`,
      cause: err,
    });
  }
  if (req.signal?.aborted) return abortedError(operation, req.signal.reason);
  const where = `${req.method} ${pathOnly(req.path)}`;
  if (kind === "timeout") {
    return new ControlPlaneError({
      code: "TIMEOUT",
      operation,
      message: `${operation}: ${where} got no complete answer within ${req.timeoutMs} ms`,
      cause: err,
    });
  }
  if (kind === "too-large") {
    return new ControlPlaneError({
      code: "BAD_RESPONSE",
      operation,
      message: `${operation}: ${where} answered with a body too large to read (${(err as Error).message}); the call failed`,
      cause: err,
    });
  }
  const reason = err instanceof Error ? err.message : String(err);
  const errCode = (err as { code?: unknown } | null)?.code;
  return new ControlPlaneError({
    code: "NETWORK",
    operation,
    message: scrub(
      `${operation}: ${where} failed at the connection level: ${reason}${typeof errCode === "string" ? ` (${errCode})` : ""}`,
      ctx.token,
    ),
    cause: err,
  });
}

/** Parses `{error, description}` when the text is such a JSON object; scrubbed text in, so no token out. */
function parseErrorBody(text: string): ErrResponse | undefined {
  try {
    const parsed = ErrResponse.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces every occurrence of the token with `[redacted]`. */
export function scrub(text: string, token: string): string {
  return token ? text.replaceAll(token, "[redacted]") : text;
}

function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_QUOTED_CHARS ? `${oneLine.slice(0, MAX_QUOTED_CHARS)}…` : oneLine;
}

/** The path without its query, for messages (queries may carry ids only, but keep messages short). */
function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}
