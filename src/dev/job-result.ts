/**
 * How a job ended, read from the control plane's view of it once it is terminal: its outcome, the duration of
 * its execution (claim to last status), its outputs and error (redacted), and the step that failed — the
 * action step reported `error`/`timed-out` when there is one, else the pipeline step of `error_metadata`.
 * Pure, so it is table-tested.
 */
import type { JobOutcome } from "../events/events.ts";
import type { Redactor } from "../logs/redact.ts";
import type { JobDetail } from "../mock-control-plane/server.ts";

/** How one job ended. */
export interface JobResult {
  name: string;
  type: string;
  status: JobOutcome;
  jobId?: string;
  durationMs: number;
  /** Redacted. */
  outputs?: Record<string, unknown>;
  /** Redacted. */
  error?: string;
  failedStep?: string;
}

/** What jobResultOf needs besides the job. */
export interface JobResultContext {
  name: string;
  type: string;
  /** Action step id → name. */
  stepNames: ReadonlyMap<string, string>;
  /** Learns the outputs' secret-named values, then redacts outputs and error. */
  redactor: Redactor;
  /** Used when the execution carries no times (or there is none). */
  fallbackDurationMs: number;
}

/** The outcome of a control-plane job status (a non-terminal one reads as `failed`). */
export function outcomeOf(status: JobDetail["status"]): JobOutcome {
  switch (status) {
    case "finished":
    case "failed":
    case "timed-out":
    case "not-attempted":
    case "cancelled":
      return status;
    default:
      return "failed";
  }
}

/** Reads a terminal job. */
export function jobResultOf(detail: JobDetail, ctx: JobResultContext): JobResult {
  const execution = detail.executions.at(-1);
  const status = outcomeOf(detail.status);
  const raw = execution?.outputs;
  if (raw !== undefined) ctx.redactor.addFromObject(raw);
  const outputs = raw === undefined ? undefined : (ctx.redactor.redactValue(raw) as Record<string, unknown>);
  const meta = (execution?.result?.error_metadata ?? {}) as { step?: unknown; message?: unknown };
  const actionFailed = execution?.steps?.findLast((s) => s.status === "error" || s.status === "timed-out");
  const failedStep =
    status === "finished"
      ? undefined
      : actionFailed !== undefined
        ? (ctx.stepNames.get(actionFailed.step_id) ?? actionFailed.step_id)
        : typeof meta.step === "string"
          ? meta.step
          : undefined;
  const message =
    typeof meta.message === "string" && meta.message !== "" ? meta.message : detail.status_description;
  return {
    name: ctx.name,
    type: ctx.type,
    status,
    jobId: detail.id,
    durationMs: executionMs(execution) ?? ctx.fallbackDurationMs,
    ...(outputs !== undefined ? { outputs } : {}),
    ...(status !== "finished" && message ? { error: ctx.redactor.redact(message).text } : {}),
    ...(failedStep !== undefined ? { failedStep } : {}),
  };
}

function executionMs(execution: JobDetail["executions"][number] | undefined): number | undefined {
  if (execution?.created_at === undefined || execution.updated_at === undefined) return undefined;
  const ms = Date.parse(execution.updated_at) - Date.parse(execution.created_at);
  return Number.isNaN(ms) ? undefined : Math.max(0, ms);
}
