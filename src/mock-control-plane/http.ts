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
  segments: string[];
}

/** Routes matched in registration order (so `/jobs/tail` is listed before `/jobs/:job_id`). */
export class Router {
  readonly #routes: CompiledRoute[] = [];

  /** Adds routes. */
  add(...routes: Route[]): void {
    for (const route of routes) this.#routes.push({ route, segments: route.pattern.split("/").slice(1) });
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
    const parts = pathname.split("/").slice(1);
    for (const { route, segments } of this.#routes) {
      if (route.method !== method || segments.length !== parts.length) continue;
      const params: Record<string, string> = Object.create(null);
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const segment = segments[i] ?? "";
        const part = parts[i] ?? "";
        if (segment.startsWith(":")) {
          ok = part !== "";
          params[segment.slice(1)] = safeDecode(part);
        } else ok = segment === part;
      }
      if (ok) return { route, params };
    }
    return undefined;
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The credential on a request: `Authorization: Bearer`, Basic (its password), else `?token=`. */
export function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
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

/** Reads a whole request body, refusing more than `maxBytes` (413) and gunzipping gzip bodies. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes)
      throw new ApiError(413, "payload too large", `request body exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
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
