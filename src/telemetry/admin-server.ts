/**
 * The admin server: `/healthz` (liveness: every job loop checked for work recently), `/readyz` (readiness:
 * settings fetched and the agent running; 503 while draining) and `/metrics` (Prometheus text). Plain
 * node:http on loopback by default; it never serves anything secret.
 */
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

/** A probe's answer: ok → 200, otherwise 503; `body` is sent as JSON. */
export interface ProbeResult {
  ok: boolean;
  body: Record<string, unknown>;
}

/** Options of the admin server. */
export interface AdminServerOptions {
  /** Address to listen on; default "127.0.0.1". */
  host?: string;
  /** Port; 0 picks a free one. Default 5000. */
  port?: number;
  log: Logger;
  health(): ProbeResult;
  ready(): ProbeResult;
  /** Prometheus text exposition (may be async: OpenTelemetry metrics are collected on demand). */
  metrics(): string | Promise<string>;
}

/** A listening admin server. */
export interface AdminServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** Stops listening and closes idle connections. Idempotent. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** Starts the admin server; rejects when the address cannot be bound (e.g. EADDRINUSE). */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const host = options.host ?? "127.0.0.1";
  const serveMetrics = async (res: ServerResponse): Promise<void> => {
    try {
      send(res, 200, "text/plain; version=0.0.4; charset=utf-8", await options.metrics());
    } catch (err) {
      options.log.error({ err, path: "/metrics" }, "admin request failed");
      send(res, 500, "text/plain; charset=utf-8", "internal error\n");
    }
  };
  // process.getBuiltinModule, not an ESM import: importing node:http as ESM also evaluates its lazy exports
  // (WebSocket, fetch's undici), ~14 MB of RSS the runner never uses
  const { createServer } = process.getBuiltinModule("node:http");
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
      return;
    }
    try {
      if (path === "/healthz" || path === "/readyz") {
        const probe = path === "/healthz" ? options.health() : options.ready();
        send(res, probe.ok ? 200 : 503, "application/json", `${JSON.stringify(probe.body)}\n`);
      } else if (path === "/metrics") {
        void serveMetrics(res);
      } else {
        send(res, 404, "text/plain; charset=utf-8", "not found: try /healthz, /readyz or /metrics\n");
      }
    } catch (err) {
      options.log.error({ err, path }, "admin request failed");
      send(res, 500, "text/plain; charset=utf-8", "internal error\n");
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 5000, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  options.log.info({ host, port, url }, "admin server listening");
  let closed: Promise<void> | undefined;
  return {
    port,
    url,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closed;
    },
  };
}
