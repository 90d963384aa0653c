/**
 * A real OTLP/HTTP receiver for tests: a node:http server on 127.0.0.1:0 that accepts `POST /v1/traces`,
 * `/v1/metrics` (a collector) and `/v1/runners/{id}/traces|metrics` (the control plane's routes), decodes
 * protobuf bodies with protobufjs from a subset of the upstream opentelemetry-proto files (same messages and
 * field numbers) and JSON bodies as OTLP/JSON, and keeps every request with a flattened view of its spans
 * and metric points.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import protobuf from "protobufjs";

/** opentelemetry-proto v1: common, resource, trace, metrics and the two collector requests (trimmed). */
const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { reserved 1000; Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Event events = 11; uint32 dropped_events_count = 12;
  repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
  message Event {
    fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4;
  }
  message Link {
    bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5; fixed32 flags = 6;
  }
}
message Status { reserved 1; string message = 2; int32 code = 3; }

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { reserved 1000; Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  reserved 4, 6, 8;
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
  repeated KeyValue metadata = 12;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message NumberDataPoint {
  reserved 1;
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  reserved 1;
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
  uint32 flags = 10; optional double min = 11; optional double max = 12;
}
`;

const root = protobuf.parse(OTLP_PROTO).root;
const TraceRequest = root.lookupType("otlp.ExportTraceServiceRequest");
const MetricsRequest = root.lookupType("otlp.ExportMetricsServiceRequest");

/** A span as received, ids in lowercase hex ("" when absent). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
}

/** One metric data point as received. */
export interface ReceivedPoint {
  metric: string;
  unit: string;
  kind: "sum" | "gauge" | "histogram";
  attributes: Record<string, unknown>;
  /** Sum/gauge value, or the histogram's count. */
  value: number;
  sum?: number;
}

/** One request as received. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  contentType: string;
  raw: Buffer;
  spans: ReceivedSpan[];
  points: ReceivedPoint[];
}

/** A listening receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:port`. */
  url: string;
  requests: ReceivedRequest[];
  spans(): ReceivedSpan[];
  points(): ReceivedPoint[];
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;

function hex(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value.toLowerCase();
  return Buffer.from(value as Uint8Array).toString("hex");
}

function anyValue(v: unknown): unknown {
  const value = (v ?? {}) as Obj;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return Number(value.doubleValue);
  if ("arrayValue" in value)
    return ((value.arrayValue as Obj).values as unknown[] | undefined)?.map(anyValue) ?? [];
  return undefined;
}

function attrs(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of (list as Obj[] | undefined) ?? []) out[String(kv.key)] = anyValue(kv.value);
  return out;
}

function flattenSpans(req: Obj): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (req.resourceSpans as Obj[] | undefined) ?? []) {
    const resource = attrs((rs.resource as Obj | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Obj[] | undefined) ?? []) {
      const scope = String((ss.scope as Obj | undefined)?.name ?? "");
      for (const s of (ss.spans as Obj[] | undefined) ?? []) {
        const status = (s.status ?? {}) as Obj;
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: String(s.name ?? ""),
          kind: Number(s.kind ?? 0),
          attributes: attrs(s.attributes),
          events: ((s.events as Obj[] | undefined) ?? []).map((e) => ({
            name: String(e.name ?? ""),
            attributes: attrs(e.attributes),
          })),
          status: { code: Number(status.code ?? 0), message: String(status.message ?? "") },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function flattenMetrics(req: Obj): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of (req.resourceMetrics as Obj[] | undefined) ?? []) {
    for (const sm of (rm.scopeMetrics as Obj[] | undefined) ?? []) {
      for (const m of (sm.metrics as Obj[] | undefined) ?? []) {
        const base = { metric: String(m.name), unit: String(m.unit ?? "") };
        for (const kind of ["sum", "gauge", "histogram"] as const) {
          const data = m[kind] as Obj | undefined;
          if (data === undefined || data === null) continue;
          for (const p of (data.dataPoints as Obj[] | undefined) ?? []) {
            const value = kind === "histogram" ? Number(p.count ?? 0) : Number(p.asDouble ?? p.asInt ?? 0);
            out.push({
              ...base,
              kind,
              attributes: attrs(p.attributes),
              value,
              ...(kind === "histogram" ? { sum: Number(p.sum ?? 0) } : {}),
            });
          }
        }
      }
    }
  }
  return out;
}

function decode(
  path: string,
  contentType: string,
  raw: Buffer,
): { spans: ReceivedSpan[]; points: ReceivedPoint[] } {
  const isTraces = path.endsWith("/traces");
  let body: Obj;
  if (contentType.includes("json")) body = JSON.parse(raw.toString("utf8")) as Obj;
  else {
    const type = isTraces ? TraceRequest : MetricsRequest;
    body = type.toObject(type.decode(raw), { longs: String, enums: Number, defaults: false }) as Obj;
  }
  return isTraces ? { spans: flattenSpans(body), points: [] } : { spans: [], points: flattenMetrics(body) };
}

/** Starts a receiver on 127.0.0.1 port 0. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const raw = Buffer.concat(chunks);
      const contentType = String(req.headers["content-type"] ?? "");
      try {
        if (req.method !== "POST" || !/\/(traces|metrics)$/.test(path))
          throw new Error(`unexpected ${req.method} ${path}`);
        requests.push({ path, headers: req.headers, contentType, raw, ...decode(path, contentType, raw) });
        const json = contentType.includes("json");
        res.writeHead(json ? 201 : 200, {
          "content-type": json ? "application/json" : "application/x-protobuf",
        });
        res.end(json ? '"ok"' : undefined);
      } catch (err) {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans: () => requests.flatMap((r) => r.spans),
    points: () => requests.flatMap((r) => r.points),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
