/**
 * The standard OpenTelemetry environment variables, read into a plan of what to export where. Pure: no
 * exporter is built here. A signal is exported over OTLP only when the variables ask for it —
 * `OTEL_{TRACES,METRICS}_EXPORTER` lists `otlp`, or (that variable unset) an OTLP endpoint is set — so a
 * runner started without OTEL_* variables sends nothing anywhere. docs/telemetry.md lists every variable.
 */

/** The OTLP encodings the runner can send. */
export type OtlpProtocol = "http/protobuf" | "http/json";

/** Where and how one signal is exported. */
export interface OtlpTarget {
  /** Full URL of the signal, e.g. `http://collector:4318/v1/traces`. */
  url: string;
  protocol: OtlpProtocol;
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS and the signal's own). */
  headers: Record<string, string>;
  /** Per-export deadline in ms; default 10 000. */
  timeoutMs: number;
}

/** What the environment asks for. */
export interface OtelEnvPlan {
  /** OTEL_SDK_DISABLED=true: no OTLP export at all (the control plane's included). */
  disabled: boolean;
  traces: OtlpTarget | undefined;
  metrics: OtlpTarget | undefined;
  /** OTEL_METRIC_EXPORT_INTERVAL in ms; default 60 000. */
  metricIntervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT in ms; default 30 000. */
  metricTimeoutMs: number;
  /** OTEL_SERVICE_NAME, when set. */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded. */
  resourceAttributes: Record<string, string>;
  /** Variables that were set but could not be honoured, as sentences for a warning. */
  warnings: string[];
}

/** Default OTLP/HTTP endpoint (the collector's default port). */
export const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318";
/** Default metric export interval in ms (OpenTelemetry's default). */
export const DEFAULT_METRIC_INTERVAL_MS = 60_000;

type Env = Readonly<Record<string, string | undefined>>;
type Signal = "traces" | "metrics";

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

/** Parses `k=v,k2=v2` (values percent-decoded) as in OTEL_EXPORTER_OTLP_HEADERS / OTEL_RESOURCE_ATTRIBUTES. */
export function parseKeyValueList(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (key === "") continue;
    try {
      out[key] = decodeURIComponent(raw);
    } catch {
      out[key] = raw;
    }
  }
  return out;
}

function positiveMs(env: Env, name: string, fallback: number, warnings: string[]): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (Number.isFinite(n) && n > 0) return n;
  warnings.push(`${name}="${raw}" is not a positive number of milliseconds; using ${fallback}`);
  return fallback;
}

function exporterList(env: Env, name: string): string[] | undefined {
  const raw = value(env, name);
  if (raw === undefined) return undefined;
  return raw
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
}

function target(env: Env, signal: Signal, warnings: string[]): OtlpTarget | undefined {
  const upper = signal.toUpperCase();
  const listVar = signal === "traces" ? "OTEL_TRACES_EXPORTER" : "OTEL_METRICS_EXPORTER";
  const list = exporterList(env, listVar);
  const signalEndpoint = value(env, `OTEL_EXPORTER_OTLP_${upper}_ENDPOINT`);
  const endpoint = value(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  for (const name of list ?? []) {
    // `prometheus` is the admin server's /metrics, which is always served.
    if (name !== "otlp" && name !== "none" && !(signal === "metrics" && name === "prometheus")) {
      warnings.push(`${listVar} lists "${name}", which the runner does not support; only otlp is exported`);
    }
  }
  const wanted =
    list === undefined ? signalEndpoint !== undefined || endpoint !== undefined : list.includes("otlp");
  if (!wanted || list?.includes("none") === true) return undefined;

  const protocol =
    value(env, `OTEL_EXPORTER_OTLP_${upper}_PROTOCOL`) ?? value(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/protobuf" && protocol !== "http/json") {
    warnings.push(
      `OTLP protocol "${protocol}" is not supported (use http/protobuf or http/json); ${signal} are not exported`,
    );
    return undefined;
  }
  const url = signalEndpoint ?? `${(endpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/+$/, "")}/v1/${signal}`;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    warnings.push(`the OTLP ${signal} endpoint "${url}" is not an http(s) URL; ${signal} are not exported`);
    return undefined;
  }
  return {
    url,
    protocol: protocol ?? "http/protobuf",
    headers: {
      ...parseKeyValueList(value(env, "OTEL_EXPORTER_OTLP_HEADERS")),
      ...parseKeyValueList(value(env, `OTEL_EXPORTER_OTLP_${upper}_HEADERS`)),
    },
    timeoutMs: positiveMs(
      env,
      `OTEL_EXPORTER_OTLP_${upper}_TIMEOUT`,
      positiveMs(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10_000, warnings),
      warnings,
    ),
  };
}

/** Reads the OTEL_* variables of `env` into a plan; never throws (bad values become warnings). */
export function readOtelEnv(env: Env): OtelEnvPlan {
  const warnings: string[] = [];
  const disabled = value(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true";
  return {
    disabled,
    traces: disabled ? undefined : target(env, "traces", warnings),
    metrics: disabled ? undefined : target(env, "metrics", warnings),
    metricIntervalMs: positiveMs(env, "OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_METRIC_INTERVAL_MS, warnings),
    metricTimeoutMs: positiveMs(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30_000, warnings),
    serviceName: value(env, "OTEL_SERVICE_NAME"),
    resourceAttributes: parseKeyValueList(value(env, "OTEL_RESOURCE_ATTRIBUTES")),
    warnings,
  };
}
