/**
 * The runner's OpenTelemetry instruments (names, units and labels are listed in docs/telemetry.md and must
 * stay stable): jobs by type and status, job and step durations, pickup latency and queue wait, log bytes and
 * records shipped and dropped, and observed values — redactions, heartbeat lag, event-loop delay. The same
 * instruments feed /metrics (Prometheus text) and any OTLP exporter.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Meter } from "@opentelemetry/api";

/** Histogram bucket boundaries for durations, in seconds (5 ms … 1 h). */
export const SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

/** Instrument names (OpenTelemetry); the Prometheus names are derived in prometheus.ts. */
export const METRIC_NAMES = {
  jobs: "runner.jobs.completed",
  jobDuration: "runner.job.duration",
  stepDuration: "runner.step.duration",
  pickupLatency: "runner.job.pickup_latency",
  queueWait: "runner.job.queue_wait",
  logBytesShipped: "runner.logs.shipped.bytes",
  logRecordsShipped: "runner.logs.shipped.records",
  logBytesDropped: "runner.logs.dropped.bytes",
  logRecordsDropped: "runner.logs.dropped.records",
  redactions: "runner.redactions",
  heartbeatLag: "runner.heartbeat.lag",
  eventLoopDelayMax: "runner.eventloop.delay.max",
  eventLoopDelayP99: "runner.eventloop.delay.p99",
} as const;

/** What a finished job is counted by. */
export interface JobLabels {
  type: string;
  group: string;
  /** The terminal execution status: finished, failed, timed-out, cancelled. */
  status: string;
}

/** The recording API the runner's parts call (the job runner, run-job's step hook, the log shipper). */
export interface RunnerMetrics {
  /** A job reached its terminal status after `durationMs` of pipeline. */
  jobFinished(labels: JobLabels, durationMs: number): void;
  /** A step ran for `durationMs`; `outcome` is "ok" or "error". */
  stepFinished(labels: { type: string; step: string; outcome: "ok" | "error" }, durationMs: number): void;
  /** A job was claimed: `pickupLatencyMs` from seeing it to the claim, `queueWaitMs` from created_at. */
  jobPickedUp(labels: { type: string; group: string }, pickupLatencyMs: number, queueWaitMs?: number): void;
  /** The log shipper delivered `records` records of `bytes` bytes. */
  logShipped(bytes: number, records: number): void;
  /** The log shipper gave up on `records` records of `bytes` bytes (`reason`: e.g. "spool-full"). */
  logDropped(bytes: number, records: number, reason?: string): void;
}

/** Live values read when metrics are collected. */
export interface MetricSources {
  /** Total replacements made by the redactor (Redactor.count). */
  redactionCount?: () => number;
  /** Largest gap between two heartbeat sends so far, in ms. */
  heartbeatWorstGapMs?: () => number;
}

/** Creates the instruments on `meter`; `stop()` ends the event-loop monitor. */
export function createRunnerMetrics(
  meter: Meter,
  sources: MetricSources = {},
): RunnerMetrics & { stop(): void } {
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, {
      unit: "s",
      description,
      advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
    });
  const jobs = meter.createCounter(METRIC_NAMES.jobs, {
    unit: "{job}",
    description: "Jobs that reached a terminal status, by type, group and status.",
  });
  const jobDuration = seconds(METRIC_NAMES.jobDuration, "Seconds a job's step pipeline ran.");
  const stepDuration = seconds(METRIC_NAMES.stepDuration, "Seconds one step of a job ran.");
  const pickupLatency = seconds(
    METRIC_NAMES.pickupLatency,
    "Seconds from receiving an available job to its claim being acknowledged.",
  );
  const queueWait = seconds(METRIC_NAMES.queueWait, "Seconds from a job's created_at to its claim.");
  const logBytes = meter.createCounter(METRIC_NAMES.logBytesShipped, {
    unit: "By",
    description: "Bytes of job log records delivered to the control plane.",
  });
  const logRecords = meter.createCounter(METRIC_NAMES.logRecordsShipped, {
    unit: "{record}",
    description: "Job log records delivered to the control plane.",
  });
  const droppedBytes = meter.createCounter(METRIC_NAMES.logBytesDropped, {
    unit: "By",
    description: "Bytes of job log records given up on, by reason.",
  });
  const droppedRecords = meter.createCounter(METRIC_NAMES.logRecordsDropped, {
    unit: "{record}",
    description: "Job log records given up on, by reason.",
  });

  const redactionCount = sources.redactionCount;
  if (redactionCount !== undefined) {
    meter
      .createObservableCounter(METRIC_NAMES.redactions, {
        unit: "{redaction}",
        description: "Secrets replaced by the redactor (logs, outputs, telemetry).",
      })
      .addCallback((result) => result.observe(redactionCount()));
  }
  const worstGapMs = sources.heartbeatWorstGapMs;
  if (worstGapMs !== undefined) {
    meter
      .createObservableGauge(METRIC_NAMES.heartbeatLag, {
        unit: "s",
        description: "Largest gap between two heartbeat sends so far.",
      })
      .addCallback((result) => result.observe(worstGapMs() / 1000));
  }

  // Event-loop delay since the previous collection (by any reader), sampled every 10 ms.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const delayMax = meter.createObservableGauge(METRIC_NAMES.eventLoopDelayMax, {
    unit: "s",
    description: "Largest event-loop delay since the previous collection.",
  });
  const delayP99 = meter.createObservableGauge(METRIC_NAMES.eventLoopDelayP99, {
    unit: "s",
    description: "99th percentile of the event-loop delay since the previous collection.",
  });
  meter.addBatchObservableCallback(
    (result) => {
      const empty = loop.count === 0;
      result.observe(delayMax, empty ? 0 : loop.max / 1e9);
      result.observe(delayP99, empty ? 0 : loop.percentile(99) / 1e9);
      loop.reset();
    },
    [delayMax, delayP99],
  );

  const nonNegative = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0);
  return {
    jobFinished(labels, durationMs) {
      const attrs = { "runner_job.type": labels.type, "runner_job.group": labels.group };
      jobs.add(1, { ...attrs, "runner_job_execution.status": labels.status });
      jobDuration.record(nonNegative(durationMs) / 1000, {
        ...attrs,
        "runner_job_execution.status": labels.status,
      });
    },
    stepFinished(labels, durationMs) {
      stepDuration.record(nonNegative(durationMs) / 1000, {
        "runner_job.type": labels.type,
        "runner_job_execution_step.name": labels.step,
        outcome: labels.outcome,
      });
    },
    jobPickedUp(labels, pickupLatencyMs, queueWaitMs) {
      const attrs = { "runner_job.type": labels.type, "runner_job.group": labels.group };
      pickupLatency.record(nonNegative(pickupLatencyMs) / 1000, attrs);
      if (queueWaitMs !== undefined) queueWait.record(nonNegative(queueWaitMs) / 1000, attrs);
    },
    logShipped(bytes, records) {
      if (bytes > 0) logBytes.add(bytes);
      if (records > 0) logRecords.add(records);
    },
    logDropped(bytes, records, reason = "unknown") {
      if (bytes > 0) droppedBytes.add(bytes, { reason });
      if (records > 0) droppedRecords.add(records, { reason });
    },
    stop() {
      loop.disable();
    },
  };
}
