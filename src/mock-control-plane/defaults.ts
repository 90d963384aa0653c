/** Defaults of the embedded control plane, as Nuon's control plane sets them (PROTOCOL.md §1.6, §2.2). */
import { msToNs } from "../control-plane/schemas.ts";

const MINUTE_MS = 60_000;

/** Defaults of `startControlPlane`. */
export const CONTROL_PLANE_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  tail: true,
  monitorIntervalMs: 100,
  runnerHealthTimeoutMs: 15_000,
  waitForJobTimeoutMs: 10_000,
  /** The long-poll holds at most this long, whatever `wait` asks. */
  maxTailWaitMs: 25_000,
  /** Persistence writes are debounced by this much. */
  persistDebounceMs: 50,
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes: 64 * 1024 * 1024,
} as const;

/** Job timeout defaults in ms (`runners/helpers/jobs.go`). */
export const JOB_TIMEOUT_DEFAULTS_MS = {
  queue: 24 * 60 * MINUTE_MS,
  available: 30_000,
  execution: 5 * MINUTE_MS,
} as const;

/** Execution timeouts by job type where they differ from the 5-minute default. */
const EXECUTION_TIMEOUT_BY_TYPE_MS: Readonly<Record<string, number>> = {
  "docker-build": 60 * MINUTE_MS,
  "container-image-build": 15 * MINUTE_MS,
  "helm-chart-build": 5 * MINUTE_MS,
  "terraform-module-build": 5 * MINUTE_MS,
  "oci-sync": 15 * MINUTE_MS,
  "terraform-deploy": 60 * MINUTE_MS,
  "helm-chart-deploy": 15 * MINUTE_MS,
  "kubernetes-manifest-deploy": 15 * MINUTE_MS,
  "job-deploy": 15 * MINUTE_MS,
  "sandbox-terraform": 60 * MINUTE_MS,
  "runner-terraform": 15 * MINUTE_MS,
  "runner-helm": 5 * MINUTE_MS,
};

/** The default execution timeout of a job type, in ns. */
export function defaultExecutionTimeoutNs(type: string): number {
  return msToNs(EXECUTION_TIMEOUT_BY_TYPE_MS[type] ?? JOB_TIMEOUT_DEFAULTS_MS.execution);
}

/** Default runner settings (heart_beat_timeout 5 s in ns, logging on at INFO). */
export const DEFAULT_SETTINGS = {
  heart_beat_timeout: msToNs(5_000),
  enable_logging: true,
  enable_metrics: false,
  enable_sentry: false,
  logging_level: "INFO",
  sandbox_mode: false,
  platform: "local",
} as const;

/** Heartbeats and health checks kept per runner (older ones are dropped). */
export const MAX_HEARTBEATS = 200;

/**
 * Log records held per log stream; past it the oldest are evicted and counted (log-store.ts). Sequence numbers
 * stay known, so de-duplication and the completeness counters cover evicted records too.
 */
export const MAX_LOG_RECORDS_PER_STREAM = 250_000;
