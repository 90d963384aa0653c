/** `waitForJob`: resolve when a job satisfies a predicate, judged on every `job:updated` event. */
import type { EventEmitter } from "node:events";
import type { JobDetail } from "./model.ts";

/**
 * Resolves with the job once `predicate` holds (checked now and on every `job:updated`); rejects after
 * `timeoutMs` with a message showing the job's status and executions, or with the predicate's own error.
 */
export function waitForJob(
  events: EventEmitter,
  current: () => JobDetail | undefined,
  jobId: string,
  predicate: (job: JobDetail) => boolean,
  timeoutMs: number,
): Promise<JobDetail> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      clearTimeout(timer);
      events.off("job:updated", onUpdate);
      fn();
    };
    const check = (job: JobDetail | undefined) => {
      try {
        if (job !== undefined && predicate(job)) done(() => resolve(job));
      } catch (err) {
        done(() => reject(err));
      }
    };
    const onUpdate = (job: JobDetail) => {
      if (job.id === jobId) check(job);
    };
    const timer = setTimeout(() => {
      const job = current();
      done(() =>
        reject(
          new Error(`job ${jobId} did not reach the expected state within ${timeoutMs} ms; ${describe(job)}`),
        ),
      );
    }, timeoutMs);
    events.on("job:updated", onUpdate);
    check(current());
  });
}

function describe(job: JobDetail | undefined): string {
  if (job === undefined) return "no such job";
  const executions = job.executions.map((e) => `${e.id}=${e.status}`).join(", ") || "none";
  return `its status is ${job.status} (${job.status_description ?? "no description"}); executions: ${executions}`;
}
