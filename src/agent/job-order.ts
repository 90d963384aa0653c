/**
 * Which offered job a loop tries first. `oldest` (the default) sorts by `created_at` ascending so that a
 * steady stream of new jobs can never starve an old one; `newest` keeps the control plane's order
 * (`created_at desc`, what Nuon's runner does when it takes `jobs[0]`). See docs/agent.md.
 */
import type { Job } from "../control-plane/schemas.ts";

/** The order in which a loop tries the jobs of one listing. */
export type JobOrder = "oldest" | "newest";

function createdAtMs(job: Job): number {
  const ms = job.created_at === undefined ? Number.NaN : Date.parse(job.created_at);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** Returns a new array in the order the loop should try to claim; jobs without a readable created_at go last. */
export function orderJobs(jobs: readonly Job[], order: JobOrder): Job[] {
  if (order === "newest") {
    return [...jobs].sort((a, b) => {
      const am = createdAtMs(a);
      const bm = createdAtMs(b);
      if (am === bm) return 0;
      if (am === Number.POSITIVE_INFINITY) return 1;
      if (bm === Number.POSITIVE_INFINITY) return -1;
      return bm - am;
    });
  }
  return [...jobs].sort((a, b) => {
    const am = createdAtMs(a);
    const bm = createdAtMs(b);
    return am === bm ? 0 : am < bm ? -1 : 1;
  });
}
