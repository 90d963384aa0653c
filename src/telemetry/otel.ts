/**
 * OpenTelemetry for one runner process: a tracer and a meter on providers owned here (nothing global is
 * registered), exported
 * - over OTLP/HTTP (protobuf, or JSON) when the standard OTEL_* variables ask for it (otel-env.ts), and
 * - to the control plane's `/v1/runners/{id}/traces|metrics` as OTLP/JSON when the settings turn it on
 *   (`telemetrySwitches`),
 * and never anywhere otherwise (with no trace destination no span is even made). Every span string passes the
 * redactor before any exporter sees it. The metrics are also rendered as Prometheus text for the admin
 * server's /metrics. The runner imports this module lazily, once the settings are known. docs/telemetry.md.
 */
import { type Meter, ProxyTracerProvider, type Tracer } from "@opentelemetry/api";
import { OTLPMetricExporter as JsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import {
  BatchSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { RunnerSettings } from "../control-plane/schemas.ts";
import {
  type ControlPlaneExportOptions,
  type ControlPlaneTransport,
  createControlPlaneMetricExporter,
  createControlPlaneSpanExporter,
  createControlPlaneTransport,
} from "./control-plane-export.ts";
import { type ExportLog, watchMetricExporter, watchSpanExporter } from "./export-watch.ts";
import { createJobTracer, type JobTracer } from "./job-trace.ts";
import { createRunnerMetrics, type RunnerMetrics } from "./metrics.ts";
import { type OtlpTarget, readOtelEnv } from "./otel-env.ts";
import { renderPrometheus } from "./prometheus.ts";
import { createRedactingSpanProcessor } from "./redact-spans.ts";

/** Instrumentation scope name of the runner's spans and metrics. */
export const SCOPE_NAME = "runner";

/** The control plane as a telemetry destination, with the settings' switches. */
export interface ControlPlaneTelemetry extends ControlPlaneExportOptions {
  enableMetrics: boolean;
  enableTraces: boolean;
}

/** Options of startTelemetry. */
export interface StartTelemetryOptions {
  /** `service.name`; default "runner" (OTEL_SERVICE_NAME overrides). */
  serviceName?: string;
  runnerId: string;
  version: string;
  /** Resource attributes, usually settings.metadata (org.id, install.id, …). */
  resourceAttributes?: Readonly<Record<string, string>> | undefined;
  /** The OTEL_* variables (usually process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** The control plane's telemetry routes; used only for what `enableMetrics`/`enableTraces` turn on. */
  controlPlane?: ControlPlaneTelemetry;
  /** Scrubs span strings; its `count` feeds `runner.redactions`. */
  redactor?: { redact(text: string): { text: string }; readonly count: number };
  /** Largest heartbeat gap so far in ms, for `runner.heartbeat.lag`. */
  heartbeatWorstGapMs?: () => number;
  /** Export failures and configuration warnings go here. */
  log?: ExportLog;
  /** How often metrics are pushed to OTLP/control-plane exporters, in ms; default OTEL_METRIC_EXPORT_INTERVAL or 60 000. */
  metricIntervalMs?: number;
  /** Longest shutdown (final flush) in ms; default 5000. */
  shutdownTimeoutMs?: number;
}

/** The process's telemetry. */
export interface Telemetry extends JobTracer {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Recording API (jobs, steps, pickups, log shipping). */
  readonly metrics: RunnerMetrics;
  /** Where spans and metrics are exported (URLs without credentials); empty lists: nowhere. */
  readonly destinations: { traces: string[]; metrics: string[] };
  /** The metrics as Prometheus text (empty after shutdown). */
  prometheusText(): Promise<string>;
  /** Exports what is pending now. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes (bounded by shutdownTimeoutMs) and stops. Idempotent, never rejects. */
  shutdown(): Promise<void>;
}

/**
 * Which control-plane exports the settings turn on. RunnerGroupSettings has one switch, `enable_metrics`
 * (PROTOCOL.md §2.2); it turns on both metrics and traces (the runner's job and step spans), since the
 * control plane exposes both routes for "the runner otel collector/exporter stack".
 */
export function telemetrySwitches(settings: RunnerSettings): {
  enableMetrics: boolean;
  enableTraces: boolean;
} {
  const on = settings.enable_metrics === true;
  return { enableMetrics: on, enableTraces: on };
}

/** A reader collected on demand (for /metrics); cumulative. */
class PullMetricReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function otlpSpanExporter(target: OtlpTarget): SpanExporter {
  const config = { url: target.url, headers: target.headers, timeoutMillis: target.timeoutMs };
  return target.protocol === "http/json" ? new JsonTraceExporter(config) : new ProtoTraceExporter(config);
}

function otlpMetricExporter(target: OtlpTarget): PushMetricExporter {
  const config = { url: target.url, headers: target.headers, timeoutMillis: target.timeoutMs };
  return target.protocol === "http/json" ? new JsonMetricExporter(config) : new ProtoMetricExporter(config);
}

/** Starts telemetry; exporters are created only for what the environment and the settings ask for. */
export function startTelemetry(opts: StartTelemetryOptions): Telemetry {
  const plan = readOtelEnv(opts.env);
  for (const warning of plan.warnings) opts.log?.warn({}, `telemetry: ${warning}`);
  const redactor = opts.redactor;
  const redact = (text: string) => (redactor === undefined ? text : redactor.redact(text).text);

  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...opts.resourceAttributes, ...plan.resourceAttributes })) {
    attributes[k] = redact(v);
  }
  Object.assign(attributes, {
    "service.name": plan.serviceName ?? opts.serviceName ?? "runner",
    "service.version": opts.version,
    "runner.id": opts.runnerId,
    "runner.version": opts.version,
  });
  const resource = resourceFromAttributes(attributes);

  const cp = plan.disabled ? undefined : opts.controlPlane;
  let transport: ControlPlaneTransport | undefined;
  if (cp !== undefined && (cp.enableTraces || cp.enableMetrics)) transport = createControlPlaneTransport(cp);

  const destinations = { traces: [] as string[], metrics: [] as string[] };
  const spanProcessors: SpanProcessor[] = [createRedactingSpanProcessor(redact)];
  const addSpanExport = (exporter: SpanExporter, url: string) => {
    destinations.traces.push(url);
    spanProcessors.push(new BatchSpanProcessor({ exporter: watchSpanExporter(exporter, url, opts.log) }));
  };
  if (plan.traces !== undefined) addSpanExport(otlpSpanExporter(plan.traces), plan.traces.url);
  if (transport !== undefined && cp?.enableTraces === true) {
    addSpanExport(createControlPlaneSpanExporter(transport), transport.url("traces"));
  }

  const pull = new PullMetricReader();
  const readers: MetricReader[] = [pull];
  const intervalMs = opts.metricIntervalMs ?? plan.metricIntervalMs;
  const addMetricExport = (exporter: PushMetricExporter, url: string) => {
    destinations.metrics.push(url);
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: watchMetricExporter(exporter, url, opts.log),
        exportIntervalMillis: intervalMs,
        exportTimeoutMillis: Math.min(plan.metricTimeoutMs, intervalMs),
      }),
    );
  };
  if (plan.metrics !== undefined) addMetricExport(otlpMetricExporter(plan.metrics), plan.metrics.url);
  if (transport !== undefined && cp?.enableMetrics === true) {
    addMetricExport(createControlPlaneMetricExporter(transport), transport.url("metrics"));
  }

  // Spans nobody exports are not made: without a trace destination the tracer is the API's no-op one (a fresh
  // ProxyTracerProvider has no delegate), so a job costs no span bookkeeping or redaction.
  const tracerProvider =
    destinations.traces.length > 0 ? new TracerProvider({ resource, spanProcessors }) : undefined;
  const meterProvider = new MeterProvider({ resource, readers });
  const tracer = (tracerProvider ?? new ProxyTracerProvider()).getTracer(SCOPE_NAME, opts.version);
  const meter = meterProvider.getMeter(SCOPE_NAME, opts.version);
  const metrics = createRunnerMetrics(meter, {
    ...(redactor !== undefined ? { redactionCount: () => redactor.count } : {}),
    ...(opts.heartbeatWorstGapMs !== undefined ? { heartbeatWorstGapMs: opts.heartbeatWorstGapMs } : {}),
  });
  const jobs = createJobTracer(tracer, metrics);
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 5_000;
  let stopped: Promise<void> | undefined;

  const bounded = async (work: Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, shutdownTimeoutMs);
    });
    await Promise.race([work.then(() => undefined), timeout]);
    clearTimeout(timer);
  };

  return {
    tracer,
    meter,
    metrics,
    destinations,
    startJob: (input) => jobs.startJob(input),
    async prometheusText() {
      if (stopped !== undefined) return "";
      try {
        const { resourceMetrics } = await pull.collect();
        return renderPrometheus(resourceMetrics);
      } catch {
        return "";
      }
    },
    async forceFlush() {
      if (stopped !== undefined) return;
      await bounded(Promise.allSettled([tracerProvider?.forceFlush(), meterProvider.forceFlush()]));
    },
    shutdown() {
      stopped ??= (async () => {
        metrics.stop();
        await bounded(Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]));
        await transport?.close();
      })();
      return stopped;
    },
  };
}
