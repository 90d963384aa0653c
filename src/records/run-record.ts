/**
 * The run record: everything a local run did, built only from the run's events (`applyEvent` is a pure
 * reducer, so the record and the live view can never tell different stories) and saved as
 * `<state-dir>/runs/<run-id>.json` by record-store.ts. It keeps the settings used, every job with its steps
 * (start, end, duration, status), errors, redacted outputs, the snapshots `runner diff` compares, and the
 * event log with sequence numbers (job log lines are capped per job; the rest are counted as dropped).
 */
import * as z from "zod";
import type { AnyRunEvent, JobOutcome, RunSettingsView, RunStatus, StepKind } from "../events/events.ts";
import type { JobSnapshot } from "./snapshots.ts";

/** The record format's version. */
export const RECORD_VERSION = 1;
/** Job log events kept in the record per job; default 1000 (later ones are counted in droppedEvents). */
export const MAX_LOG_EVENTS_PER_JOB = 1000;

/** A step of a job: a pipeline phase or an action workflow step. */
export interface StepRecord {
  name: string;
  kind: StepKind;
  status: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
}

/** Where a job is: before it ends (`waiting`, `enqueued`, a control-plane status), then its outcome. */
export type JobRecordStatus =
  | JobOutcome
  | "waiting"
  | "enqueued"
  | "queued"
  | "available"
  | "in-progress"
  | "unknown";

/** A job of the run. */
export interface JobRecord {
  name: string;
  type: string;
  operation?: string;
  dependsOn: string[];
  jobId?: string;
  status: JobRecordStatus;
  enqueuedAt?: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  error?: string;
  failedStep?: string;
  /** Redacted. */
  outputs?: Record<string, unknown>;
  steps: StepRecord[];
  /** The newest log line seen. */
  lastLog?: string;
}

/** A saved run. */
export interface RunRecord {
  version: typeof RECORD_VERSION;
  runId: string;
  status: RunStatus | "running";
  exitCode?: number;
  reason?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  /** Absolute paths of the job files. */
  jobFiles: string[];
  settings: RunSettingsView;
  jobs: JobRecord[];
  /** By job name. */
  snapshots: Record<string, JobSnapshot>;
  events: AnyRunEvent[];
  /** Events left out of `events` (job log lines over the per-job cap). */
  droppedEvents: number;
}

/** Options of applyEvent. */
export interface ApplyOptions {
  /** Default MAX_LOG_EVENTS_PER_JOB. */
  maxLogEventsPerJob?: number;
}

/** Job log events kept so far, per record and job (not part of the saved record). */
const logCounts = new WeakMap<RunRecord, Map<string, number>>();

/** Applies one event to the record (creating it on `run:started`); returns the record (mutated). */
export function applyEvent(
  record: RunRecord | undefined,
  event: AnyRunEvent,
  opts: ApplyOptions = {},
): RunRecord | undefined {
  if (event.type === "run:started") {
    const d = event.data;
    return {
      version: RECORD_VERSION,
      runId: d.runId,
      status: "running",
      startedAt: event.time,
      jobFiles: d.jobFiles,
      settings: d.settings,
      jobs: d.jobs.map((j) => ({
        name: j.name,
        type: j.type,
        ...(j.operation !== undefined ? { operation: j.operation } : {}),
        dependsOn: j.dependsOn,
        status: "waiting",
        steps: [],
      })),
      snapshots: {},
      events: [event],
      droppedEvents: 0,
    };
  }
  if (record === undefined) return undefined;
  const job =
    "job" in event.data ? record.jobs.find((j) => j.name === (event.data as { job: string }).job) : undefined;
  if (event.type === "job:log") {
    const max = opts.maxLogEventsPerJob ?? MAX_LOG_EVENTS_PER_JOB;
    const counts = logCounts.get(record) ?? new Map<string, number>();
    logCounts.set(record, counts);
    const kept = counts.get(event.data.job) ?? 0;
    if (job !== undefined) job.lastLog = event.data.line;
    if (kept >= max) {
      record.droppedEvents += 1;
      return record;
    }
    counts.set(event.data.job, kept + 1);
  }
  record.events.push(event);
  switch (event.type) {
    case "job:enqueued":
      if (job !== undefined) {
        job.jobId = event.data.jobId;
        job.status = "enqueued";
        job.enqueuedAt = event.time;
      }
      break;
    case "job:status":
      if (job !== undefined && !isOutcome(job.status)) {
        job.status = event.data.status;
        if (event.data.status === "in-progress" && job.startedAt === undefined) job.startedAt = event.time;
      }
      break;
    case "step:status":
      if (job !== undefined) applyStep(job, event.data);
      break;
    case "job:finished":
      if (job !== undefined) {
        const d = event.data;
        job.status = d.status;
        job.endedAt = event.time;
        job.durationMs = d.durationMs;
        if (d.jobId !== undefined) job.jobId = d.jobId;
        if (d.error !== undefined) job.error = d.error;
        if (d.failedStep !== undefined) job.failedStep = d.failedStep;
        if (d.outputs !== undefined) job.outputs = d.outputs;
      }
      break;
    case "job:snapshot":
      record.snapshots[event.data.job] = event.data.snapshot;
      break;
    case "run:finished":
      record.status = event.data.status;
      record.exitCode = event.data.exitCode;
      record.durationMs = event.data.durationMs;
      record.endedAt = event.time;
      if (event.data.reason !== undefined) record.reason = event.data.reason;
      break;
    default:
      break;
  }
  return record;
}

const OUTCOMES: ReadonlySet<string> = new Set([
  "finished",
  "failed",
  "timed-out",
  "not-attempted",
  "cancelled",
  "skipped",
] satisfies JobOutcome[]);

/** Whether a job record status is an end. */
export function isOutcome(status: string): status is JobOutcome {
  return OUTCOMES.has(status);
}

function applyStep(
  job: JobRecord,
  d: { step: string; kind: StepKind; status: string; at: string; durationMs?: number },
): void {
  let step = job.steps.find((s) => s.kind === d.kind && s.name === d.step);
  if (step === undefined) {
    step = { name: d.step, kind: d.kind, status: d.status };
    job.steps.push(step);
  }
  step.status = d.status;
  if (d.status === "in-progress") {
    step.startedAt ??= d.at;
    return;
  }
  step.endedAt = d.at;
  if (d.durationMs !== undefined) step.durationMs = d.durationMs;
  if (step.startedAt === undefined) {
    const endMs = Date.parse(d.at);
    step.startedAt = Number.isNaN(endMs) ? d.at : new Date(endMs - (d.durationMs ?? 0)).toISOString();
  } else if (d.durationMs === undefined) {
    const ms = Date.parse(d.at) - Date.parse(step.startedAt);
    if (!Number.isNaN(ms)) step.durationMs = Math.max(0, ms);
  }
}

const StepRecordSchema = z.looseObject({
  name: z.string(),
  kind: z.enum(["phase", "action"]),
  status: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
});

const SnapshotSchema = z.looseObject({
  job: z.string(),
  type: z.string(),
  status: z.string(),
  items: z.array(
    z.looseObject({
      key: z.string(),
      kind: z.string(),
      hash: z.string(),
      summary: z.string(),
      detail: z.string(),
    }),
  ),
});

/** Checks a record read from disk (the parts the commands use); unknown fields are kept. */
export const RunRecordSchema = z.looseObject({
  version: z.literal(RECORD_VERSION),
  runId: z.string(),
  status: z.enum(["running", "success", "failure", "timed-out", "interrupted"]),
  exitCode: z.number().int().optional(),
  reason: z.string().optional(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  jobFiles: z.array(z.string()),
  settings: z.looseObject({}),
  jobs: z.array(
    z.looseObject({
      name: z.string(),
      type: z.string(),
      operation: z.string().optional(),
      dependsOn: z.array(z.string()),
      jobId: z.string().optional(),
      status: z.string(),
      enqueuedAt: z.string().optional(),
      startedAt: z.string().optional(),
      endedAt: z.string().optional(),
      durationMs: z.number().optional(),
      error: z.string().optional(),
      failedStep: z.string().optional(),
      outputs: z.record(z.string(), z.unknown()).optional(),
      steps: z.array(StepRecordSchema),
      lastLog: z.string().optional(),
    }),
  ),
  snapshots: z.record(z.string(), SnapshotSchema),
  events: z.array(z.looseObject({ seq: z.number(), time: z.string(), type: z.string() })),
  droppedEvents: z.number(),
});
