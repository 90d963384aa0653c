/**
 * The events of a local run (`runner run-local`): one typed `noun:verb` name per fact, with its data. The
 * live view, the run record and the `--events` NDJSON stream all read these, and nothing else, so what the
 * terminal shows, what the record keeps and what a script reads never disagree.
 */
import type { ExecutionStatus, JobStatus } from "../control-plane/schemas.ts";
import type { JobSnapshot } from "../records/snapshots.ts";

/** How a run ended: every job finished, one did not, the run's deadline passed, or SIGINT/SIGTERM. */
export type RunStatus = "success" | "failure" | "timed-out" | "interrupted";

/** How a job of a run ended: a control-plane terminal status, or `skipped` (a dependency did not finish). */
export type JobOutcome = "finished" | "failed" | "timed-out" | "not-attempted" | "cancelled" | "skipped";

/** A step of a job: a pipeline phase (from execution status PATCHes) or an action workflow step (step PUTs). */
export type StepKind = "phase" | "action";

/** The settings a run used (no secrets), as the record keeps them. */
export interface RunSettingsView {
  stateDir: string;
  failFast: boolean;
  /** The run's deadline in ms. */
  timeoutMs: number;
  /** Slots per job group of the in-process agent. */
  concurrency: number;
  logLevel: string;
  logFile: string;
  record: boolean;
  eventsFile?: string;
  output: "text" | "json";
  /** `embedded`, or the URL of the existing control plane. */
  controlPlane: string;
}

/** Every event name and its data. */
export interface RunEvents {
  "run:started": {
    runId: string;
    /** Absolute paths. */
    jobFiles: string[];
    jobs: Array<{ name: string; type: string; operation?: string; dependsOn: string[] }>;
    settings: RunSettingsView;
  };
  "job:enqueued": { job: string; jobId: string; type: string };
  "job:status": {
    job: string;
    jobId: string;
    status: JobStatus;
    executionId?: string;
    executionStatus?: ExecutionStatus;
  };
  "step:status": {
    job: string;
    jobId: string;
    step: string;
    kind: StepKind;
    /** `in-progress` while it runs, then its end status (`finished`, `failed`, `error`, `noop`, …). */
    status: string;
    /** When the control plane saw it (ISO 8601). */
    at: string;
    /** Set when the step ended. */
    durationMs?: number;
  };
  "job:log": {
    job: string;
    jobId: string;
    level: string;
    line: string;
    stream?: "stdout" | "stderr";
    /** `agent`: the in-process runner's log; `control-plane`: the job's log stream. */
    source: "agent" | "control-plane";
  };
  "job:finished": {
    job: string;
    jobId?: string;
    type: string;
    status: JobOutcome;
    durationMs: number;
    /** Redacted. */
    outputs?: Record<string, unknown>;
    /** Why it did not finish (redacted). */
    error?: string;
    /** The pipeline step or action step that failed. */
    failedStep?: string;
  };
  "job:snapshot": { job: string; snapshot: JobSnapshot };
  "run:finished": { runId: string; status: RunStatus; exitCode: number; durationMs: number; reason?: string };
}

/** An event name. */
export type RunEventName = keyof RunEvents;

/** One emitted event: its sequence number (from 1), time (ISO 8601), name and data. */
export interface RunEvent<K extends RunEventName = RunEventName> {
  seq: number;
  time: string;
  type: K;
  data: RunEvents[K];
}

/** Any event, discriminated by `type`. */
export type AnyRunEvent = { [K in RunEventName]: RunEvent<K> }[RunEventName];

/** Every event name, in the order a run emits them. */
export const RUN_EVENT_NAMES = [
  "run:started",
  "job:enqueued",
  "job:status",
  "step:status",
  "job:log",
  "job:finished",
  "job:snapshot",
  "run:finished",
] as const satisfies readonly RunEventName[];
