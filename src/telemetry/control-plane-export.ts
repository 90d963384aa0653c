/**
 * Exporters to the control plane's own OTLP routes (PROTOCOL.md §2.1): spans to
 * `POST /v1/runners/{id}/traces` and metrics to `POST /v1/runners/{id}/metrics`, both as OTLP/JSON (the
 * server decodes traces with `ptraceotlp.UnmarshalJSON`; the routes consume application/json), with the
 * runner's Bearer token. Nothing from OTEL_* variables is mixed in (no collector headers leak to the control
 * plane), and no failure message ever carries the token.
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { JsonMetricsSerializer, JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { createHttpTransport } from "../control-plane/transport.ts";

/** Where the control plane is and how to reach it. */
export interface ControlPlaneExportOptions {
  /** The runner API base URL (RUNNER_API_URL), without the `/v1/...` path. */
  baseUrl: string;
  /** The runner token, sent as `Authorization: Bearer …` and nowhere else. */
  token: string;
  runnerId: string;
  /** Skip TLS verification (the runner's tlsInsecure); default false. */
  tlsInsecure?: boolean;
  /** Deadline of one export request in ms; default 10 000. */
  timeoutMs?: number;
}

/** One POST of an OTLP/JSON body; resolves with an ExportResult, never throws. */
export type OtlpJsonPost = (path: "traces" | "metrics", body: Uint8Array) => Promise<ExportResult>;

/** A transport shared by the two exporters; `close()` releases its connections (idempotent). */
export interface ControlPlaneTransport {
  post: OtlpJsonPost;
  /** `baseUrl/v1/runners/{id}/{path}`, for logs (no credentials in it). */
  url(path: "traces" | "metrics"): string;
  close(): Promise<void>;
}

/** Creates the HTTP transport to the control plane's telemetry routes. */
export function createControlPlaneTransport(opts: ControlPlaneExportOptions): ControlPlaneTransport {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const http = createHttpTransport({ baseUrl: base, tlsInsecure: opts.tlsInsecure === true });
  const headers = { authorization: `Bearer ${opts.token}`, "content-type": "application/json" };
  let closed = false;
  const route = (path: "traces" | "metrics") => `/v1/runners/${encodeURIComponent(opts.runnerId)}/${path}`;
  const url = (path: "traces" | "metrics") => `${base}${route(path)}`;
  return {
    url,
    async post(path, body) {
      if (closed) return { code: ExportResultCode.FAILED, error: new Error("exporter closed") };
      try {
        const res = await http.request({ method: "POST", path: route(path), headers, body, timeoutMs });
        if (res.status >= 200 && res.status < 300) return { code: ExportResultCode.SUCCESS };
        return {
          code: ExportResultCode.FAILED,
          error: new Error(`the control plane answered HTTP ${res.status} to POST ${url(path)}`),
        };
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        const reason = opts.token === "" ? text : text.replaceAll(opts.token, "[REDACTED]");
        return { code: ExportResultCode.FAILED, error: new Error(`POST ${url(path)} failed: ${reason}`) };
      }
    },
    async close() {
      closed = true;
      http.close();
    },
  };
}

function serialized(body: Uint8Array | undefined, post: () => Promise<ExportResult>): Promise<ExportResult> {
  if (body === undefined) {
    return Promise.resolve({ code: ExportResultCode.FAILED, error: new Error("OTLP serialization failed") });
  }
  return post();
}

/** A span exporter that POSTs OTLP/JSON to `/v1/runners/{id}/traces`. */
export function createControlPlaneSpanExporter(transport: ControlPlaneTransport): SpanExporter {
  const pending = new Set<Promise<unknown>>();
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      const body = JsonTraceSerializer.serializeRequest(spans);
      const p = serialized(body, () => transport.post("traces", body!)).then(done);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    async forceFlush() {
      await Promise.allSettled([...pending]);
    },
    async shutdown() {
      await Promise.allSettled([...pending]);
    },
  };
}

/** A push metric exporter (cumulative) that POSTs OTLP/JSON to `/v1/runners/{id}/metrics`. */
export function createControlPlaneMetricExporter(transport: ControlPlaneTransport): PushMetricExporter {
  const pending = new Set<Promise<unknown>>();
  return {
    export(metrics: ResourceMetrics, done: (result: ExportResult) => void) {
      const body = JsonMetricsSerializer.serializeRequest(metrics);
      const p = serialized(body, () => transport.post("metrics", body!)).then(done);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    async forceFlush() {
      await Promise.allSettled([...pending]);
    },
    async shutdown() {
      await Promise.allSettled([...pending]);
    },
  };
}
