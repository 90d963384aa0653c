/**
 * The available jobs of each runner, ordered by creation (`seq`), so the long-poll's "newest available job"
 * is found from the end instead of by scanning every active job (with hundreds queued, that scan ran on every
 * poll). The job engine adds a job when it becomes available and removes it when it stops being so; an entry
 * whose job is no longer `available` is also skipped and dropped when a lookup meets it, so a missed removal
 * can never hand out a job that is not available.
 */
import type { JobRecord } from "./model.ts";

/** Available jobs by runner, oldest first. */
export class AvailableJobs {
  /** Per runner, sorted by `seq` ascending. */
  readonly #byRunner = new Map<string, JobRecord[]>();
  readonly #members = new Set<JobRecord>();

  /** Notes that `job` is available (a no-op when it already is listed). */
  add(job: JobRecord): void {
    if (this.#members.has(job)) return;
    this.#members.add(job);
    const runnerId = job.job.runner_id ?? "";
    const list = this.#byRunner.get(runnerId);
    if (list === undefined) {
      this.#byRunner.set(runnerId, [job]);
      return;
    }
    // New jobs have the highest seq: the usual insert is at the end.
    let at = list.length;
    while (at > 0 && list[at - 1]!.seq > job.seq) at--;
    list.splice(at, 0, job);
  }

  /** Notes that `job` is no longer available. */
  remove(job: JobRecord): void {
    if (!this.#members.delete(job)) return;
    const runnerId = job.job.runner_id ?? "";
    const list = this.#byRunner.get(runnerId);
    if (list === undefined) return;
    // The job claimed is usually the newest one: the usual removal is at the end.
    const at = list.at(-1) === job ? list.length - 1 : list.lastIndexOf(job);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#byRunner.delete(runnerId);
  }

  /** The newest available job of a runner in a group (`any` or empty: every group). */
  newest(runnerId: string, group: string): JobRecord | undefined {
    const list = this.#byRunner.get(runnerId);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const job = list[i]!;
      if (job.job.status !== "available") {
        this.remove(job);
        continue;
      }
      if (group === "any" || group === "" || job.job.group === group) return job;
    }
    return undefined;
  }
}
