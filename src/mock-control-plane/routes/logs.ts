/**
 * `POST /v1/log-streams/{id}/logs`: an OTLP ExportLogsServiceRequest in protobuf, checked and stored as received
 * (decoded when read); records already stored are dropped by execution and `runner.log.seq` (log-store.ts).
 */
import { type ScannedLogRecord, scanLogsRequest } from "../../otlp/logs-scan.ts";
import { forbidden, invalidRequest, notFound } from "../api-error.ts";
import type { Route } from "../http.ts";
import type { Services } from "./services.ts";

/** The log stream routes. */
export function logRoutes(services: Services): Route[] {
  return [
    {
      method: "POST",
      pattern: "/v1/log-streams/:log_stream_id/logs",
      operationId: "LogStreamWriteLogs",
      auth: "runner",
      handle: async (ctx) => {
        const id = ctx.params.log_stream_id ?? "";
        const stream = services.store.logStreams.get(id);
        if (stream === undefined) throw notFound("log stream", id);
        if (
          ctx.principal.kind !== "admin" &&
          (ctx.principal.kind !== "runner" || ctx.principal.runnerId !== stream.runnerId)
        ) {
          throw forbidden(`log stream ${id} belongs to another runner`);
        }
        const contentType = ctx.req.headers["content-type"] ?? "";
        if (contentType.includes("json")) {
          throw invalidRequest("body: expected an OTLP ExportLogsServiceRequest as application/x-protobuf");
        }
        const bytes = await ctx.body();
        let scanned: ScannedLogRecord[];
        try {
          scanned = scanLogsRequest(bytes);
        } catch (err) {
          throw invalidRequest(`body: ${(err as Error).message}`, { cause: err });
        }
        services.reports.appendLogs(id, bytes, scanned);
        return { status: 201, json: "ok" };
      },
    },
  ];
}
