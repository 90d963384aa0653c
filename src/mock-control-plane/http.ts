/**
 * The embedded control plane's small HTTP layer: routes with `:param` segments and an operationId, token
 * extraction (Bearer, `?token=`, Basic password), bounded body reading (gzip aware) and JSON replies.
 */
import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { ApiError, invalidRequest } from "./api-error.ts";

const gunzipAsync = promisify(gunzip);

/** Who is calling: the admin, one runner, or nobody (routes without auth). */
export type Principal = { kind: "admin" } | { kind: "runner"; runnerId: string } | { kind: "anonymous" };

/** Which credential a route needs: a runner token (the admin token also passes), the admin token, or none. */
export type AuthMode = "runner" | "admin" | "none";

/** One request as a route sees it. */
export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  principal: Principal;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
  /** The raw body (decompressed when `Content-Encoding: gzip`). */
  body(): Promise<Buffer>;
  /** The body parsed as JSON; `undefined` when empty; a 400 when it is not JSON. */
  json(): Promise<unknown>;
}

/** What a route answers: JSON (default), or text with its content type. */
export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A route of the control plane. */
export interface Route {
  method: string;
  /** e.g. `/v1/runner-jobs/:job_id/executions`. */
  pattern: string;
  /** Swagger operationId (admin and extra routes have their own); `stats()` counts by it. */
  operationId: string;
  auth: AuthMode;
  handle(ctx: RouteContext): Reply | Promise<Reply>;
}

interface CompiledRoute {
  route: Route;
  /** Per segment after the leading `/`: the literal to match, or the param name (`:` stripped). */
  segments: Array<{ literal: string } | { param: string }>;
}

/**
 * Routes matched in registration order (so `/jobs/tail` is listed before `/jobs/:job_id`). Only routes of the
 * request's method and segment count are tried (they are grouped by both), so matching costs a few string
 * compares however many routes there are.
 */
export class Router {
  readonly #routes: CompiledRoute[] = [];
  /** Method → segment count → the routes of that shape, in registration order. */
  readonly #byShape = new Map<string, CompiledRoute[][]>();

  /** Adds routes. */
  add(...routes: Route[]): void {
    for (const route of routes) {
      const segments = route.pattern
        .split("/")
        .slice(1)
        .map((segment) => (segment.startsWith(":") ? { param: segment.slice(1) } : { literal: segment }));
      const compiled: CompiledRoute = { route, segments };
      this.#routes.push(compiled);
      let byCount = this.#byShape.get(route.method);
      if (byCount === undefined) {
        byCount = [];
        this.#byShape.set(route.method, byCount);
      }
      const sameShape = byCount[segments.length];
      if (sameShape === undefined) byCount[segments.length] = [compiled];
      else sameShape.push(compiled);
    }
  }

  /** Every route, in match order (the contract test checks them against the swagger). */
  list(): Array<{ method: string; pattern: string; operationId: string; auth: AuthMode }> {
    return this.#routes.map(({ route }) => ({
      method: route.method,
      pattern: route.pattern,
      operationId: route.operationId,
      auth: route.auth,
    }));
  }

  /** The route and its params for a method and path; `undefined` when none matches. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = pathname.split("/");
    const candidates = this.#byShape.get(method)?.[parts.length - 1];
    if (candidates === undefined) return undefined;
    for (const { route, segments } of candidates) {
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const segment = segments[i]!;
        const part = parts[i + 1]!;
        ok = "literal" in segment ? segment.literal === part : part !== "";
      }
      if (!ok) continue;
      const params: Record<string, string> = Object.create(null);
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        if ("param" in segment) params[segment.param] = safeDecode(parts[i + 1]!);
      }
      return { route, params };
    }
    return undefined;
  }
}

function safeDecode(part: string): string {
  if (!part.includes("%")) return part;
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * The credential on a request: `Authorization: Bearer`, Basic (its password), else `?token=`. `url` is the
 * request URL or anything with its `searchParams` (read only when there is no Authorization header).
 */
export function tokenOf(
  req: IncomingMessage,
  url: { readonly searchParams: URLSearchParams },
): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    // The common case first: "Bearer <token>" with one space and no other whitespace.
    if (header.startsWith("Bearer ") && header.length > 7 && !/\s/.test(header.slice(7)))
      return header.slice(7);
    const [scheme, value] = header.split(/\s+/, 2);
    if (scheme?.toLowerCase() === "bearer" && value) return value;
    if (scheme?.toLowerCase() === "basic" && value) {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      return colon >= 0 ? decoded.slice(colon + 1) : decoded;
    }
  }
  return url.searchParams.get("token") || undefined;
}

/**
 * Reads a whole request body, refusing more than `maxBytes` (413, and the request is destroyed) and gunzipping
 * gzip bodies. Rejects when the request fails or closes before its end.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: unknown, body?: Buffer) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
      if (err === undefined) resolve(body ?? Buffer.alloc(0));
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      settle(new ApiError(413, "payload too large", `request body exceeds ${maxBytes} bytes`));
      req.destroy();
    };
    const onEnd = () => settle(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    const onError = (err: Error) => settle(err);
    const onClose = () => settle(new Error("the client closed the connection before the request body ended"));
    if (req.readableEnded) return onEnd();
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
  if (req.headers["content-encoding"]?.toLowerCase() !== "gzip") return raw;
  try {
    return await gunzipAsync(raw);
  } catch (err) {
    throw invalidRequest("body: Content-Encoding is gzip but the body does not gunzip", { cause: err });
  }
}

/** Parses JSON body bytes: empty → undefined; otherwise JSON or a 400. */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw invalidRequest(`body: not valid JSON (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
}
