import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { parentFromMetadata } from "../../src/telemetry/job-trace.ts";
import { parseKeyValueList, readOtelEnv } from "../../src/telemetry/otel-env.ts";

describe("reading the OTEL_* variables", () => {
  it("exports nothing when no variable asks for it", () => {
    const plan = readOtelEnv({ PATH: "/usr/bin", OTEL_SERVICE_NAME: "svc" });
    expect(plan.traces).toBeUndefined();
    expect(plan.metrics).toBeUndefined();
    expect(plan.serviceName).toBe("svc");
    expect(plan.warnings).toEqual([]);
  });

  it("derives both signal URLs from OTEL_EXPORTER_OTLP_ENDPOINT with protobuf by default", () => {
    const plan = readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" });
    expect(plan.traces).toEqual({
      url: "http://collector:4318/v1/traces",
      protocol: "http/protobuf",
      headers: {},
      timeoutMs: 10_000,
    });
    expect(plan.metrics?.url).toBe("http://collector:4318/v1/metrics");
  });

  it("uses a signal's own endpoint as it is and exports only that signal", () => {
    const plan = readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://x.example/otlp/spans" });
    expect(plan.traces?.url).toBe("https://x.example/otlp/spans");
    expect(plan.metrics).toBeUndefined();
  });

  it("exports to the default collector address when OTEL_TRACES_EXPORTER=otlp names no endpoint", () => {
    const plan = readOtelEnv({ OTEL_TRACES_EXPORTER: "otlp" });
    expect(plan.traces?.url).toBe("http://localhost:4318/v1/traces");
    expect(plan.metrics).toBeUndefined();
  });

  it("lets OTEL_*_EXPORTER=none and OTEL_SDK_DISABLED win over an endpoint", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_METRICS_EXPORTER: "none" };
    const plan = readOtelEnv(env);
    expect(plan.traces).toBeDefined();
    expect(plan.metrics).toBeUndefined();
    const off = readOtelEnv({ ...env, OTEL_SDK_DISABLED: "TRUE" });
    expect(off.disabled).toBe(true);
    expect(off.traces).toBeUndefined();
  });

  it("merges generic and per-signal headers, percent-decoded, and honours http/json", () => {
    const plan = readOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc%20def, x-team = core",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=traces",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TIMEOUT: "2500",
    });
    expect(plan.traces?.headers).toEqual({ "x-api-key": "abc def", "x-team": "traces" });
    expect(plan.metrics?.headers).toEqual({ "x-api-key": "abc def", "x-team": "core" });
    expect(plan.traces?.protocol).toBe("http/protobuf");
    expect(plan.metrics?.protocol).toBe("http/json");
    expect(plan.traces?.timeoutMs).toBe(2500);
  });

  it("turns what it cannot honour into warnings instead of exporting wrongly", () => {
    const plan = readOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_TRACES_EXPORTER: "otlp,zipkin",
      OTEL_METRIC_EXPORT_INTERVAL: "soon",
    });
    expect(plan.traces).toBeUndefined();
    expect(plan.metrics).toBeUndefined();
    expect(plan.metricIntervalMs).toBe(60_000);
    expect(plan.warnings).toHaveLength(4);
    expect(plan.warnings.join("\n")).toContain('"zipkin"');
    expect(plan.warnings.join("\n")).toContain('"grpc" is not supported');
  });

  it("parses OTEL_RESOURCE_ATTRIBUTES pairs and skips malformed ones", () => {
    expect(parseKeyValueList("a=1,b=x%2Cy,=bad,novalue,c= spaced ")).toEqual({
      a: "1",
      b: "x,y",
      c: "spaced",
    });
  });
});

describe("the parent of a job span", () => {
  it("is the remote span of a valid traceparent, with its tracestate", () => {
    const ctx = parentFromMetadata({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "vendor=abc",
    });
    expect(trace.getSpanContext(ctx)).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
      isRemote: true,
    });
    expect(trace.getSpanContext(ctx)?.traceState?.get("vendor")).toBe("abc");
  });

  it.each([
    ["absent", undefined],
    ["malformed", { traceparent: "not-a-traceparent" }],
    ["an all-zero trace id", { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }],
    ["version ff", { traceparent: "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }],
  ])("is the root (a new trace) when the traceparent is %s", (_what, metadata) => {
    const ctx = parentFromMetadata(metadata);
    expect(ctx).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
  });
});
