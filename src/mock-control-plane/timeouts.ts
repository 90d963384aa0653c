/**
 * The timeout monitor's rules (PROTOCOL.md §1.6), applied on every tick to jobs that are not terminal:
 * overall (from created_at) → job and running executions timed-out; queue (never claimed) → not-attempted;
 * available (from becoming available) → timed-out; execution (from its created_at) → execution timed-out and
 * the job re-offered while executions remain, else timed-out.
 */
import { nsToMs } from "../control-plane/schemas.ts";
import { isoAt } from "./ids.ts";
import type { JobEngine } from "./jobs.ts";
import type { JobRecord } from "./model.ts";
import type { ControlPlaneStore } from "./store.ts";
import { isExecutionRunning } from "./views.ts";

/** Applies every timeout that has passed at `nowMs`. */
export function applyTimeouts(store: ControlPlaneStore, engine: JobEngine, nowMs: number): void {
  // Deleting the current entry while iterating a Set is safe, and a job the rules touch is already in it.
  for (const id of store.activeJobIds) {
    const job = store.jobs.get(id);
    if (job !== undefined) checkJob(store, engine, job, nowMs);
  }
}

function checkJob(store: ControlPlaneStore, engine: JobEngine, job: JobRecord, nowMs: number): void {
  const fields = job.job;
  const createdMs = Date.parse(fields.created_at ?? "");
  if (nowMs >= createdMs + nsToMs(fields.overall_timeout ?? 0)) {
    const now = isoAt(nowMs);
    for (const exec of store.executionsOf(job).filter(isExecutionRunning)) {
      Object.assign(exec.execution, { status: "timed-out", updated_at: now });
    }
    engine.finish(job, "timed-out", "job exceeded its overall timeout");
    return;
  }
  if (fields.status === "available" || fields.status === "queued") {
    if ((fields.execution_count ?? 0) === 0 && nowMs >= createdMs + nsToMs(fields.queue_timeout ?? 0)) {
      engine.finish(job, "not-attempted", "job was not picked up within its queue timeout");
    } else if (nowMs >= (job.availableAtMs ?? createdMs) + nsToMs(fields.available_timeout ?? 0)) {
      engine.finish(job, "timed-out", "job was not picked up by a runner within its available timeout");
    }
    return;
  }
  for (const exec of store.executionsOf(job).filter(isExecutionRunning)) {
    const startedMs = Date.parse(exec.execution.created_at ?? "");
    if (nowMs < startedMs + nsToMs(fields.execution_timeout ?? 0)) continue;
    Object.assign(exec.execution, { status: "timed-out", updated_at: isoAt(nowMs) });
    engine.retryOrFinish(job, "timed-out", "execution timed out");
  }
}
