/**
 * Prometheus text exposition (format 0.0.4) of OpenTelemetry metrics collected by a MetricReader, for the
 * admin server's /metrics. Naming follows the OpenTelemetry → Prometheus rules: characters other than
 * `[a-zA-Z0-9_:]` become `_`, the unit adds a suffix (`s` → `_seconds`, `By` → `_bytes`, `{…}` and `1`
 * nothing), monotonic sums are counters with `_total`; non-monotonic sums and gauges are gauges; histograms
 * give `_bucket{le}` (cumulative), `_sum` and `_count`. Attribute keys are sanitized the same way.
 */
import type { Attributes } from "@opentelemetry/api";
import { DataPointType, type MetricData, type ResourceMetrics } from "@opentelemetry/sdk-metrics";

const UNIT_SUFFIXES: Readonly<Record<string, string>> = {
  s: "seconds",
  ms: "milliseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  "%": "percent",
};

function sanitize(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_+/g, "_");
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** The Prometheus family name of an OpenTelemetry instrument (without `_total`/`_bucket`). */
export function prometheusName(name: string, unit: string): string {
  let out = sanitize(name);
  const suffix = UNIT_SUFFIXES[unit];
  if (suffix !== undefined && !out.endsWith(`_${suffix}`)) out += `_${suffix}`;
  return out;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function labelValue(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

function labels(attributes: Attributes, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    parts.push(`${sanitize(key)}="${escapeLabel(labelValue(value))}"`);
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function num(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** Appends one metric's family (HELP, TYPE, samples) to `lines`; exponential histograms are skipped. */
function renderMetric(metric: MetricData, lines: string[], seen: Set<string>): void {
  const base = prometheusName(metric.descriptor.name, metric.descriptor.unit);
  const help = metric.descriptor.description;
  const header = (name: string, type: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    if (help !== "") lines.push(`# HELP ${name} ${escapeHelp(help)}`);
    lines.push(`# TYPE ${name} ${type}`);
  };
  switch (metric.dataPointType) {
    case DataPointType.SUM: {
      const name = metric.isMonotonic && !base.endsWith("_total") ? `${base}_total` : base;
      header(name, metric.isMonotonic ? "counter" : "gauge");
      for (const p of metric.dataPoints) lines.push(`${name}${labels(p.attributes)} ${num(p.value)}`);
      return;
    }
    case DataPointType.GAUGE: {
      header(base, "gauge");
      for (const p of metric.dataPoints) lines.push(`${base}${labels(p.attributes)} ${num(p.value)}`);
      return;
    }
    case DataPointType.HISTOGRAM: {
      header(base, "histogram");
      for (const p of metric.dataPoints) {
        const { boundaries, counts } = p.value.buckets;
        let cumulative = 0;
        boundaries.forEach((le, i) => {
          cumulative += counts[i] ?? 0;
          lines.push(`${base}_bucket${labels(p.attributes, ["le", num(le)])} ${cumulative}`);
        });
        lines.push(`${base}_bucket${labels(p.attributes, ["le", "+Inf"])} ${p.value.count}`);
        lines.push(`${base}_sum${labels(p.attributes)} ${num(p.value.sum ?? 0)}`);
        lines.push(`${base}_count${labels(p.attributes)} ${p.value.count}`);
      }
      return;
    }
    default:
      return;
  }
}

/** Renders collected metrics as Prometheus text (ends with a newline; empty when there is nothing). */
export function renderPrometheus(resourceMetrics: ResourceMetrics): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) renderMetric(metric, lines, seen);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
