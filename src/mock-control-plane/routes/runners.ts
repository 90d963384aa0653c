/** Runner-scoped routes: settings, runner, job list, the long-poll tail, V2 job routes, heartbeats, processes. */
import { ApiError, invalidRequest } from "../api-error.ts";
import { parseGoDurationMs } from "../go-duration.ts";
import type { Route, RouteContext } from "../http.ts";
import { ID_PREFIX, newId } from "../ids.ts";
import { DEFAULT_JOB_LIST_LIMIT, parseCount } from "../jobs.ts";
import type { JobRecord } from "../model.ts";
import { jobToWire, omitZero, planText } from "../views.ts";
import { accessibleJob, assertRunnerAccess, type Services } from "./services.ts";

/** The runner routes. */
export function runnerRoutes(services: Services): Route[] {
  const { runners, jobs } = services;
  const runnerId = (ctx: RouteContext) => {
    const id = ctx.params.runner_id ?? "";
    assertRunnerAccess(ctx, services, id);
    return id;
  };
  const v2Job = (ctx: RouteContext) => {
    const id = runnerId(ctx);
    const job = accessibleJob(ctx, services, ctx.params.job_id ?? "");
    if (job.job.runner_id !== id) throw new ApiError(404, "not found", `runner job ${job.job.id} not found`);
    return job;
  };
  return [
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/settings",
      operationId: "GetRunnerSettings",
      auth: "runner",
      handle: (ctx) => ({ status: 200, json: runners.settings(runnerId(ctx)) }),
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id",
      operationId: "GetRunner",
      auth: "runner",
      handle: (ctx) => ({ status: 200, json: runners.toWire(runnerId(ctx)) }),
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/jobs",
      operationId: "GetRunnerJobs",
      auth: "runner",
      handle: (ctx) => {
        const id = runnerId(ctx);
        const q = ctx.query;
        const query = {
          group: q.get("group"),
          status: q.get("status"),
          limit: q.get("limit"),
          offset: q.get("offset"),
        };
        const page = jobs.list(id, query);
        const limit = parseCount("limit", query.limit, DEFAULT_JOB_LIST_LIMIT);
        const offset = parseCount("offset", query.offset, 0);
        const more = jobs.list(id, { ...query, offset: String(offset + limit), limit: "1" }).length > 0;
        return {
          status: 200,
          json: page.map((job) => jobToWire(job)),
          headers: {
            "X-Nuon-Page-Next": String(more),
            "X-Nuon-Page-Offset": String(offset),
            "X-Nuon-Page-Limit": String(limit),
          },
        };
      },
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/jobs/tail",
      operationId: "TailRunnerJobs",
      auth: "runner",
      handle: async (ctx) => {
        const id = runnerId(ctx);
        if (!services.tailEnabled) {
          throw new ApiError(404, "not found", "long-polling jobs is not enabled for this runner");
        }
        const group = ctx.query.get("group") || "any";
        const waitText = ctx.query.get("wait");
        const waitMs = waitText === null ? services.maxTailWaitMs : parseGoDurationMs(waitText);
        if (waitMs === undefined)
          throw invalidRequest(`wait: "${waitText}" is not a Go duration such as 25s`);
        const job = await tailOnce(services, ctx, id, group, Math.min(waitMs, services.maxTailWaitMs));
        return { status: 200, json: job === undefined ? [] : [jobToWire(job)] };
      },
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/jobs/:job_id",
      operationId: "GetRunnerJobV2",
      auth: "runner",
      handle: (ctx) => {
        const job = v2Job(ctx);
        return { status: 200, json: jobToWire(job, jobs.executions(job.job.id).slice(0, 1)) };
      },
    },
    {
      method: "PATCH",
      pattern: "/v1/runners/:runner_id/jobs/:job_id",
      operationId: "UpdateRunnerJobV2",
      auth: "runner",
      handle: async (ctx) => {
        const job = v2Job(ctx);
        return { status: 200, json: jobToWire(jobs.updateJobStatus(job.job.id, await ctx.json())) };
      },
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/jobs/:job_id/plan",
      operationId: "GetRunnerJobPlanV2",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        text: planText(v2Job(ctx)),
        contentType: "text/plain; charset=utf-8",
      }),
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/heart-beats",
      operationId: "CreateRunnerHeartBeat",
      auth: "runner",
      handle: async (ctx) => ({ status: 201, json: runners.heartbeat(runnerId(ctx), await ctx.json()) }),
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/health-checks",
      operationId: "CreateRunnerHealthCheck",
      auth: "runner",
      handle: async (ctx) => ({ status: 201, json: runners.healthCheck(runnerId(ctx), await ctx.json()) }),
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/processes",
      operationId: "CreateRunnerProcess",
      auth: "runner",
      handle: async (ctx) => {
        const id = runnerId(ctx);
        const body = await ctx.json();
        const logStreamId = newId(ID_PREFIX.logStream);
        const process = runners.createProcess(id, body, logStreamId);
        services.store.logStreams.set(logStreamId, {
          id: logStreamId,
          runnerId: id,
          owner: { type: "process", id: process.id },
          records: [],
        });
        return { status: 201, json: process };
      },
    },
    {
      method: "GET",
      pattern: "/v1/runners/:runner_id/processes/:process_id",
      operationId: "GetRunnerProcess",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        json: omitZero({ ...runners.process(runnerId(ctx), ctx.params.process_id ?? "") }),
      }),
    },
    {
      method: "PATCH",
      pattern: "/v1/runners/:runner_id/processes/:process_id",
      operationId: "UpdateRunnerProcess",
      auth: "runner",
      handle: async (ctx) => ({
        status: 200,
        json: runners.updateProcess(runnerId(ctx), ctx.params.process_id ?? "", await ctx.json()),
      }),
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/processes/:process_id/shutdowns/:shutdown_id/complete",
      operationId: "CompleteRunnerProcessShutdown",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        json: runners.completeShutdown(
          runnerId(ctx),
          ctx.params.process_id ?? "",
          ctx.params.shutdown_id ?? "",
        ),
      }),
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/traces",
      operationId: "RunnerOtelWriteTraces",
      auth: "runner",
      handle: async (ctx) => {
        runnerId(ctx);
        await ctx.body();
        return { status: 201, json: "ok" };
      },
    },
    {
      method: "POST",
      pattern: "/v1/runners/:runner_id/metrics",
      operationId: "RunnerOtelWriteMetrics",
      auth: "runner",
      handle: async (ctx) => {
        runnerId(ctx);
        await ctx.body();
        return { status: 201, json: "ok" };
      },
    },
  ];
}

/**
 * One long-poll: the newest available job now, else park until one is handed over or the wait ends. A job
 * claimed by someone else between hand-over and reply sends the poll back to waiting for the time left.
 */
async function tailOnce(
  services: Services,
  ctx: RouteContext,
  runnerId: string,
  group: string,
  waitMs: number,
): Promise<JobRecord | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const ready = services.jobs.newestAvailable(runnerId, group);
    if (ready !== undefined) return ready;
    const leftMs = deadline - Date.now();
    if (leftMs <= 0 || ctx.signal.aborted) return undefined;
    const handed = await services.tail.wait(runnerId, group, leftMs, ctx.signal);
    if (handed === undefined) return undefined;
    if (handed.job.status === "available") return handed;
  }
}
