/**
 * Wraps an exporter so its failures reach the runner's log: the first failure of a streak is a warning
 * (later ones are debug lines), and the first success after it says exporting works again. OpenTelemetry's
 * own exporters report only to its silent diag logger otherwise. Export results pass through unchanged.
 */
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace";

/** The logger subset used (pino's signature). */
export interface ExportLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

/** Tracks a streak of failures of one destination and logs its edges. */
function createWatch(what: string, target: string, log: ExportLog | undefined) {
  let failing = false;
  return (result: ExportResult): ExportResult => {
    if (log === undefined) return result;
    if (result.code === ExportResultCode.SUCCESS) {
      if (failing) log.info({ target }, `exporting ${what} works again`);
      failing = false;
    } else {
      const fields = { target, error: result.error?.message };
      if (!failing) log.warn(fields, `could not export ${what}; later batches are still tried`);
      else log.debug(fields, `could not export ${what}`);
      failing = true;
    }
    return result;
  };
}

/** A span exporter that logs the failures of `inner` (sending to `target`, a URL for the log). */
export function watchSpanExporter(
  inner: SpanExporter,
  target: string,
  log: ExportLog | undefined,
): SpanExporter {
  const watch = createWatch("spans", target, log);
  return {
    export: (spans, done) => inner.export(spans, (result) => done(watch(result))),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** A metric exporter that logs the failures of `inner` (sending to `target`, a URL for the log). */
export function watchMetricExporter(
  inner: PushMetricExporter,
  target: string,
  log: ExportLog | undefined,
): PushMetricExporter {
  const watch = createWatch("metrics", target, log);
  const wrapped: PushMetricExporter = {
    export: (metrics, done) => inner.export(metrics, (result) => done(watch(result))),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
  if (inner.selectAggregationTemporality !== undefined) {
    wrapped.selectAggregationTemporality = (type) => inner.selectAggregationTemporality!(type);
  }
  if (inner.selectAggregation !== undefined) {
    wrapped.selectAggregation = (type) => inner.selectAggregation!(type);
  }
  return wrapped;
}
