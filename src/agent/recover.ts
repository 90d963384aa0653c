/**
 * Restart safety: what the journal holds at startup was running in a process that died. Each entry is
 * reported at once — with the outcome it already had when the pipeline had ended, else as failed with step
 * `restart` — and never run again. (If the control plane offers the same job again with a new execution,
 * that is a new attempt it chose under max_executions; the old execution is never resumed.)
 */
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import type { Journal, JournalEntry, PendingOutcome } from "./journal.ts";
import { deliverOutcome } from "./report-outcome.ts";

/** The message reported for an execution found in the journal without an outcome. */
export const RESTART_MESSAGE = "the runner restarted while this execution was running";

/** The outcome reported for a journal entry left by a dead process. */
export function recoveredOutcome(entry: JournalEntry): PendingOutcome {
  return (
    entry.outcome ?? {
      status: "failed",
      result: {
        success: false,
        errorCode: 0,
        errorMetadata: {
          step: "restart",
          handler: entry.jobType ?? "",
          job_type: entry.jobType ?? "",
          message: RESTART_MESSAGE,
        },
      },
    }
  );
}

/** Reports every entry (concurrently) and removes the ones delivered; resolves when all are settled. */
export async function recoverJournal(
  entries: readonly JournalEntry[],
  deps: { client: ControlPlaneApi; journal: Journal; log: Logger; signal: AbortSignal },
): Promise<void> {
  await Promise.all(
    entries.map(async (entry) => {
      const outcome = recoveredOutcome(entry);
      const log = deps.log.child({ jobId: entry.jobId, executionId: entry.executionId });
      log.warn(
        { previousPid: entry.pid, startedAt: entry.startedAt, status: outcome.status },
        entry.outcome === undefined
          ? "found an execution a previous process was running; reporting it failed, it is not run again"
          : "found an outcome a previous process could not deliver; delivering it now",
      );
      const delivery = await deliverOutcome(entry.jobId, entry.executionId, outcome, {
        client: deps.client,
        log,
        signal: deps.signal,
      });
      if (delivery === "delivered") await deps.journal.remove(entry.executionId);
    }),
  );
}
