/** What every route module gets: the services over one store, and the access checks they share. */
import { forbidden } from "../api-error.ts";
import type { RouteContext } from "../http.ts";
import type { JobEngine } from "../jobs.ts";
import type { JobRecord } from "../model.ts";
import type { JobReports } from "../reports.ts";
import type { RunnerService } from "../runners.ts";
import type { ControlPlaneStore } from "../store.ts";
import type { TailWaiters } from "../tail.ts";
import type { TerraformService } from "../terraform.ts";

/** The services of one control plane. */
export interface Services {
  store: ControlPlaneStore;
  runners: RunnerService;
  jobs: JobEngine;
  reports: JobReports;
  terraform: TerraformService;
  tail: TailWaiters;
  /** Whether the long-poll route is served (404 otherwise, as without Nuon's feature flag). */
  tailEnabled: boolean;
  /** Cap of a long-poll's hold in ms (25 s). */
  maxTailWaitMs: number;
  /** Request counts by operationId. */
  stats(): { requests: Record<string, number> };
}

/** Throws 403 unless the caller is the admin or the runner `runnerId` itself; 404 for the admin on no runner. */
export function assertRunnerAccess(ctx: RouteContext, services: Services, runnerId: string): void {
  if (ctx.principal.kind === "admin") {
    services.runners.get(runnerId);
    return;
  }
  if (ctx.principal.kind !== "runner" || ctx.principal.runnerId !== runnerId) {
    throw forbidden(`this token belongs to another runner than ${runnerId}`);
  }
}

/** The job, after checking that the caller may see it (404 unknown, 403 another runner's). */
export function accessibleJob(ctx: RouteContext, services: Services, jobId: string): JobRecord {
  const job = services.jobs.job(jobId);
  if (
    ctx.principal.kind !== "admin" &&
    (ctx.principal.kind !== "runner" || ctx.principal.runnerId !== job.job.runner_id)
  ) {
    throw forbidden(`runner job ${jobId} belongs to another runner`);
  }
  return job;
}

/** The runner id of the caller (the admin acting as a runner has none). */
export function callerRunnerId(ctx: RouteContext): string | undefined {
  return ctx.principal.kind === "runner" ? ctx.principal.runnerId : undefined;
}
