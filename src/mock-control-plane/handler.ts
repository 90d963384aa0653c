/**
 * The request handler: match a route, authenticate, run it, write the reply. Errors become Nuon's
 * `{error, description}` bodies; tokens never reach the logs (paths are logged without their query).
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { ApiError } from "./api-error.ts";
import type { Principal, Reply, Route, Router } from "./http.ts";
import { tokenOf } from "./http.ts";
import { RequestContext, RequestTarget } from "./request-context.ts";
import type { ControlPlaneStore } from "./store.ts";

/** What the handler needs. */
export interface HandlerDeps {
  router: Router;
  store: ControlPlaneStore;
  adminToken: string;
  logger: Logger;
  maxBodyBytes: number;
  /** Aborted when the server closes: parked long-polls end. */
  closing: AbortSignal;
  /** Counts one request of an operation. */
  count(operationId: string): void;
}

/** Builds the `http.Server` request listener. */
export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const adminToken = Buffer.from(deps.adminToken);
  const isAdmin = (token: string) => {
    const given = Buffer.from(token);
    return given.length === adminToken.length && timingSafeEqual(given, adminToken);
  };

  const authenticate = (route: Route, token: string | undefined): Principal => {
    if (route.auth === "none") return { kind: "anonymous" };
    if (token === undefined) {
      throw new ApiError(401, "unauthorized", "missing credentials: send Authorization: Bearer <token>");
    }
    const runner = deps.store.runnerByToken(token);
    // A runner's own token (the usual caller) is the admin token only if someone configured it so; the
    // constant-time comparison is for tokens that are not a runner's.
    const maybeAdmin = runner === undefined || runner.token === deps.adminToken;
    if (maybeAdmin && isAdmin(token)) return { kind: "admin" };
    if (runner === undefined) throw new ApiError(401, "unauthorized", "invalid token");
    if (route.auth === "admin")
      throw new ApiError(403, "forbidden", "runner tokens cannot use the admin API");
    return { kind: "runner", runnerId: runner.id };
  };

  return (req, res) => {
    const debug = deps.logger.isLevelEnabled("debug");
    const startedMs = debug ? performance.now() : 0;
    const target = new RequestTarget(req.url ?? "/");
    const method = req.method ?? "GET";
    const matched = deps.router.match(method, target.pathname);
    const operationId = matched?.route.operationId ?? "NotFound";
    deps.count(operationId);

    const run = async (): Promise<Reply> => {
      if (matched === undefined) {
        throw new ApiError(404, "not found", `no route for ${method} ${target.pathname}`);
      }
      const principal = authenticate(matched.route, tokenOf(req, target));
      const ctx = new RequestContext({
        req,
        res,
        target,
        params: matched.params,
        principal,
        closing: deps.closing,
        maxBodyBytes: deps.maxBodyBytes,
      });
      return matched.route.handle(ctx);
    };

    run()
      .catch((err: unknown): Reply => {
        if (err instanceof ApiError) return { status: err.status, json: err.toBody() };
        deps.logger.error({ err, operationId }, "control-plane route failed; answering 500");
        return {
          status: 500,
          json: { error: "internal error", description: err instanceof Error ? err.message : String(err) },
        };
      })
      .then((reply) => {
        send(res, reply);
        if (!debug) return;
        deps.logger.debug(
          {
            method,
            path: target.pathname,
            operationId,
            status: reply.status,
            durationMs: performance.now() - startedMs,
          },
          "control-plane request",
        );
      });
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.json !== undefined) {
    payload = JSON.stringify(reply.json);
    headers["Content-Type"] = "application/json; charset=utf-8";
  } else if (reply.text !== undefined) {
    payload = reply.text;
    headers["Content-Type"] = reply.contentType ?? "text/plain; charset=utf-8";
  }
  if (reply.status === 204) payload = undefined;
  if (payload !== undefined) headers["Content-Length"] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}
