/**
 * One request as a route sees it (RouteContext), built so that a short request pays only for what its route
 * reads: the URL, the query and the AbortSignal are made on first use, the body is read on first `body()`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Principal, parseJsonBody, type RouteContext, readBody } from "./http.ts";

/** A path made only of these is its own normalised form: no dot segments, escapes, empty segments or odd bytes. */
const PLAIN_PATH = /^\/(?:[A-Za-z0-9_~-]+\/)*[A-Za-z0-9_~-]*$/;

/**
 * A request target: its path (normalised as `URL` normalises it), and its URL and query, parsed when first
 * read. A plain path (the usual case) is its own normalised form, so no URL is built for it, and its query
 * string parses to the same parameters either way.
 */
export class RequestTarget {
  readonly pathname: string;
  readonly #raw: string;
  /** Where the query string starts (after `?`; -1: no query) and ends (at `#` or the end). */
  readonly #queryStart: number;
  readonly #queryEnd: number;
  #url: URL | undefined;
  #searchParams: URLSearchParams | undefined;

  constructor(raw: string) {
    this.#raw = raw;
    const question = raw.indexOf("?");
    const hash = raw.indexOf("#");
    const pathEnd = question < 0 ? hash : hash < 0 ? question : Math.min(question, hash);
    const path = pathEnd < 0 ? raw : raw.slice(0, pathEnd);
    const hasQuery = question >= 0 && (hash < 0 || question < hash);
    this.#queryStart = hasQuery ? question + 1 : -1;
    this.#queryEnd = hash < 0 ? raw.length : hash;
    this.pathname = PLAIN_PATH.test(path) ? path : this.url.pathname;
  }

  /** The whole URL (base `http://control-plane`). */
  get url(): URL {
    this.#url ??= new URL(this.#raw, "http://control-plane");
    return this.#url;
  }

  /** The query parameters. */
  get searchParams(): URLSearchParams {
    if (this.#searchParams !== undefined) return this.#searchParams;
    if (this.#url !== undefined) this.#searchParams = this.#url.searchParams;
    else {
      const query = this.#queryStart < 0 ? "" : this.#raw.slice(this.#queryStart, this.#queryEnd);
      this.#searchParams = new URLSearchParams(query);
    }
    return this.#searchParams;
  }
}

/** What a RequestContext is made of. */
export interface RequestContextInit {
  req: IncomingMessage;
  res: ServerResponse;
  target: RequestTarget;
  params: Readonly<Record<string, string>>;
  principal: Principal;
  /** Aborted when the server closes. */
  closing: AbortSignal;
  maxBodyBytes: number;
}

/** The RouteContext of one request. */
export class RequestContext implements RouteContext {
  readonly req: IncomingMessage;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: Principal;
  readonly #init: RequestContextInit;
  #body: Promise<Buffer> | undefined;
  #controller: AbortController | undefined;

  constructor(init: RequestContextInit) {
    this.req = init.req;
    this.params = init.params;
    this.principal = init.principal;
    this.#init = init;
  }

  get url(): URL {
    return this.#init.target.url;
  }

  get query(): URLSearchParams {
    return this.#init.target.searchParams;
  }

  /**
   * Aborted when the client goes away or the server closes. Made on first read (the long-poll reads it):
   * most requests never need one, and a controller aborted on every close was a good part of a short request.
   */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const { res, closing } = this.#init;
    if (res.closed) controller.abort(new Error("client closed the connection"));
    else if (closing.aborted) controller.abort(closing.reason);
    else {
      const onClosing = () => controller.abort(closing.reason);
      closing.addEventListener("abort", onClosing, { once: true });
      res.once("close", () => {
        closing.removeEventListener("abort", onClosing);
        controller.abort(new Error("client closed the connection"));
      });
    }
    return controller.signal;
  }

  body(): Promise<Buffer> {
    this.#body ??= readBody(this.req, this.#init.maxBodyBytes);
    return this.#body;
  }

  async json(): Promise<unknown> {
    return parseJsonBody(await this.body());
  }
}
