/**
 * One batched watcher for the running jobs: every `intervalMs` it reads each watched job and aborts a job
 * whose status the control plane has ended (cancelled, timed-out, failed) or whose execution it has ended
 * (e.g. its restart detection cancels the execution, PROTOCOL.md §1.6). Nuon polls every 1 s per job; the
 * default here is 500 ms so that a cancel reaches the handler within a second. A job is first read at the first
 * tick at least half an interval after it started (a job that lasts a few milliseconds costs no request), so
 * its first check comes within 1.5 intervals, and the next ones every interval.
 */
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import type { Job } from "../control-plane/schemas.ts";
import type { AbortReason } from "../jobs/handler.ts";
import { errorFields } from "./log-fields.ts";

/** Options of the watcher. */
export interface CancelWatchOptions {
  client: Pick<ControlPlaneApi, "getJob">;
  log: Logger;
  /** Milliseconds between checks of one job; default 500. */
  intervalMs?: number;
  /** Per-request deadline in milliseconds; default 2 × intervalMs, at least 1000. */
  requestTimeoutMs?: number;
}

/** Watches running jobs for an end decided by the control plane. */
export interface CancelWatch {
  /** Calls `onEnd` once (then stops watching) when the control plane ends the job or this execution. */
  watch(jobId: string, executionId: string, onEnd: (reason: AbortReason) => void): () => void;
  /** Number of jobs watched. */
  readonly size: number;
  /** Stops every watch. */
  stop(): void;
}

/** Reads a job as the control plane reports it: an AbortReason when it ended, else undefined. */
export function endReasonOf(job: Job, executionId: string): AbortReason | undefined {
  switch (job.status) {
    case "cancelled":
      return { kind: "cancelled", message: "the job was cancelled at the control plane" };
    case "timed-out":
      return { kind: "timed-out", message: "the control plane timed the job out" };
    case "failed":
      return {
        kind: "cancelled",
        message: `the control plane marked the job failed${job.status_description ? `: ${job.status_description}` : ""}`,
      };
    default:
      break;
  }
  const execution = job.executions?.find((e) => e.id === executionId);
  switch (execution?.status) {
    case "cancelled":
      return { kind: "cancelled", message: "the execution was cancelled at the control plane" };
    case "timed-out":
      return { kind: "timed-out", message: "the control plane timed the execution out" };
    case "failed":
      return { kind: "cancelled", message: "the control plane marked the execution failed" };
    default:
      return undefined;
  }
}

interface Entry {
  jobId: string;
  executionId: string;
  onEnd: (reason: AbortReason) => void;
  inFlight: boolean;
  /** performance.now() when the watch started. */
  sinceMs: number;
}

/** Creates the watcher; its timer runs only while something is watched (it stops at the first tick with none). */
export function createCancelWatch(options: CancelWatchOptions): CancelWatch {
  const intervalMs = options.intervalMs ?? 500;
  const requestTimeoutMs = options.requestTimeoutMs ?? Math.max(1_000, 2 * intervalMs);
  const entries = new Map<string, Entry>();
  const stopper = new AbortController();
  let timer: NodeJS.Timeout | undefined;

  function check(entry: Entry): void {
    if (entry.inFlight) return;
    entry.inFlight = true;
    options.client
      .getJob(entry.jobId, { timeoutMs: requestTimeoutMs, signal: stopper.signal })
      .then(
        (job) => {
          const reason = endReasonOf(job, entry.executionId);
          if (reason === undefined || entries.get(entry.executionId) !== entry) return;
          entries.delete(entry.executionId);
          sync();
          options.log.info(
            { jobId: entry.jobId, kind: reason.kind },
            "the control plane ended a running job",
          );
          entry.onEnd(reason);
        },
        (err: unknown) => {
          if (!stopper.signal.aborted) {
            options.log.debug(
              { jobId: entry.jobId, ...errorFields(err) },
              "could not check a running job; trying again",
            );
          }
        },
      )
      .finally(() => {
        entry.inFlight = false;
      });
  }

  const firstCheckAfterMs = intervalMs / 2;

  function tick(): void {
    if (entries.size === 0) {
      // Stopped here rather than at each unwatch: back-to-back short jobs keep one timer.
      clearInterval(timer);
      timer = undefined;
      return;
    }
    const now = performance.now();
    for (const entry of entries.values()) if (now - entry.sinceMs >= firstCheckAfterMs) check(entry);
  }

  function sync(): void {
    if (entries.size > 0 && timer === undefined && !stopper.signal.aborted) {
      timer = setInterval(tick, intervalMs);
    } else if (stopper.signal.aborted && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  return {
    watch(jobId, executionId, onEnd) {
      const entry: Entry = { jobId, executionId, onEnd, inFlight: false, sinceMs: performance.now() };
      entries.set(executionId, entry);
      sync();
      return () => {
        if (entries.get(executionId) === entry) entries.delete(executionId);
      };
    },
    get size() {
      return entries.size;
    },
    stop() {
      stopper.abort(new Error("the cancel watch stopped"));
      entries.clear();
      sync();
    },
  };
}
