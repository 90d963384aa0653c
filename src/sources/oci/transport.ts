/**
 * One registry request, with what every request needs: the Authorization header the authorizer knows (sent
 * only to the registry's own origin), one retry after answering a 401 challenge, redirects followed for
 * reads (blob downloads are often redirected to storage, which never gets the credentials), deadlines, and
 * the translation of error answers (`{"errors":[{"code","message"}]}`) into OciErrors naming the subject.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type Dispatcher, request } from "undici";
import type { Authorizer } from "./auth.ts";
import { parseAuthChallenges } from "./challenge.ts";
import { OciError, type OciErrorCode } from "./errors.ts";

/** HTTP methods the registry API uses. */
export type RegistryMethod = "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";

/** What a transport needs. */
export interface TransportOptions {
  /** Registry host, for messages. */
  registry: string;
  /** `https://host[:port]`, or `http://` for a plain-HTTP registry. */
  origin: string;
  authorizer: Authorizer;
  dispatcher: Dispatcher;
  /** Deadline for headers, and for each gap between body chunks, in ms. */
  timeoutMs: number;
  userAgent: string;
}

/** One request. Bodies are Buffers so a request can be repeated after an auth challenge. */
export interface SendRequest {
  method: RegistryMethod;
  /** Absolute URL, or a path on the registry's origin. */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Token scopes the request needs, e.g. `repository:app:pull`. */
  scopes: readonly string[];
  /** What the request is about, for messages: `manifest 127.0.0.1:5000/app:1.0`. */
  subject: string;
  signal?: AbortSignal | undefined;
  /** Follow redirects (reads only); default false. */
  followRedirects?: boolean;
}

/** An answer; its body must be consumed or dumped by the caller. */
export interface SendResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData["body"];
  /** The URL that answered (after redirects). */
  url: URL;
}

/** Sends requests to one registry. */
export interface Transport {
  readonly origin: string;
  /** Sends `req`; 401 after answering the challenge throws UNAUTHORIZED, transport failures NETWORK/ABORTED. */
  send(req: SendRequest): Promise<SendResponse>;
  /** Reads an error answer's body and throws the OciError it means (404 NOT_FOUND, 403 DENIED, …). */
  fail(res: SendResponse, req: SendRequest, doing: string): Promise<never>;
}

/** Most redirects followed by one read. */
const MAX_REDIRECTS = 5;
/** Longest excerpt of an error body quoted in a message, in characters. */
const MAX_QUOTED_CHARS = 200;

/** Creates the transport of one registry. */
export function createTransport(options: TransportOptions): Transport {
  const registryOrigin = new URL(options.origin).origin;

  async function once(req: SendRequest, url: URL, authorization: string | undefined): Promise<SendResponse> {
    const headers: Record<string, string> = { "user-agent": options.userAgent, ...req.headers };
    if (authorization !== undefined && url.origin === registryOrigin) headers.authorization = authorization;
    try {
      const res = await request(url, {
        method: req.method,
        headers,
        body:
          req.body === undefined
            ? null
            : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
        dispatcher: options.dispatcher,
        signal: req.signal ?? null,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body, url };
    } catch (error) {
      if (req.signal?.aborted) {
        throw new OciError("ABORTED", `${req.subject}: the request to ${options.registry} was aborted`, {
          cause: error,
        });
      }
      throw new OciError(
        "NETWORK",
        `${req.subject}: could not reach registry ${options.registry}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  return {
    origin: registryOrigin,

    async send(req) {
      let url = new URL(req.url, registryOrigin);
      let authorization = options.authorizer.headerFor(req.scopes);
      let answeredChallenge = false;
      for (let redirects = 0; ; ) {
        const res = await once(req, url, authorization);
        if (res.status === 401 && url.origin === registryOrigin) {
          await res.body.dump();
          if (answeredChallenge) {
            throw new OciError(
              "UNAUTHORIZED",
              `${req.subject}: registry ${options.registry} rejected the credentials (HTTP 401); check the registry username and password or token`,
              { status: 401 },
            );
          }
          answeredChallenge = true;
          authorization = await options.authorizer.answer(
            parseAuthChallenges(res.headers["www-authenticate"]),
            req.scopes,
            req.signal,
          );
          continue;
        }
        if (
          req.followRedirects &&
          res.status >= 300 &&
          res.status < 400 &&
          res.headers.location !== undefined
        ) {
          await res.body.dump();
          if (++redirects > MAX_REDIRECTS) {
            throw new OciError(
              "PROTOCOL",
              `${req.subject}: registry ${options.registry} redirected more than ${MAX_REDIRECTS} times`,
            );
          }
          url = new URL(String(res.headers.location), url);
          continue;
        }
        return res;
      }
    },

    async fail(res, req, doing) {
      const text = req.method === "HEAD" ? "" : await res.body.text().catch(() => "");
      if (req.method === "HEAD") await res.body.dump().catch(() => undefined);
      const registryError = parseRegistryError(text);
      const code = codeForStatus(res.status);
      const detail = registryError
        ? ` (${registryError.code}${registryError.message ? `: ${registryError.message}` : ""})`
        : text.trim() === ""
          ? ""
          : `: ${text.trim().slice(0, MAX_QUOTED_CHARS)}`;
      const what =
        code === "NOT_FOUND"
          ? `${req.subject} was not found`
          : code === "DENIED"
            ? `${req.subject}: registry ${options.registry} denied ${doing}`
            : `${req.subject}: ${doing} failed with HTTP ${res.status}`;
      throw new OciError(code, `${what}${detail}`, {
        status: res.status,
        ...(registryError ? { registryCode: registryError.code } : {}),
      });
    },
  };
}

function codeForStatus(status: number): OciErrorCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  return "HTTP";
}

function parseRegistryError(text: string): { code: string; message: string } | undefined {
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = parsed.errors?.[0];
    if (first === undefined || typeof first.code !== "string") return undefined;
    return { code: first.code, message: typeof first.message === "string" ? first.message : "" };
  } catch {
    return undefined;
  }
}
