/**
 * The admin API (admin token): register runners, change settings, enqueue and inspect jobs, cancel, ask a
 * process to shut down, read request counts. Not part of Nuon's runner API; see docs/control-plane.md.
 */
import * as z from "zod";
import { RunnerSettings } from "../../control-plane/schemas.ts";
import type { Route, RouteContext } from "../http.ts";
import { parseBody } from "../runners.ts";
import { jobToWire } from "../views.ts";
import type { Services } from "./services.ts";

const CreateRunnerBody = z.strictObject({ settings: z.optional(RunnerSettings) }).optional();
const ShutdownBody = z.strictObject({ type: z.enum(["graceful", "force", "restart"]).default("graceful") });

/** The admin routes. */
export function adminRoutes(services: Services): Route[] {
  const { runners, jobs } = services;
  const runnerId = (ctx: RouteContext) => runners.get(ctx.params.runner_id ?? "").id;
  return [
    {
      method: "POST",
      pattern: "/admin/runners",
      operationId: "AdminCreateRunner",
      auth: "admin",
      handle: async (ctx) => ({
        status: 201,
        json: runners.create(parseBody(CreateRunnerBody, await ctx.json())),
      }),
    },
    {
      method: "GET",
      pattern: "/admin/runners/:runner_id",
      operationId: "AdminGetRunner",
      auth: "admin",
      handle: (ctx) => {
        const id = runnerId(ctx);
        const record = runners.get(id);
        return {
          status: 200,
          json: { id, ...runners.health(id), settings: runners.settings(id), processes: record.processes },
        };
      },
    },
    {
      method: "PATCH",
      pattern: "/admin/runners/:runner_id/settings",
      operationId: "AdminUpdateRunnerSettings",
      auth: "admin",
      handle: async (ctx) => ({
        status: 200,
        json: runners.updateSettings(runnerId(ctx), parseBody(RunnerSettings, await ctx.json())),
      }),
    },
    {
      method: "POST",
      pattern: "/admin/runners/:runner_id/jobs",
      operationId: "AdminEnqueueJob",
      auth: "admin",
      handle: async (ctx) => ({
        status: 201,
        json: jobToWire(jobs.enqueue(runnerId(ctx), await ctx.json())),
      }),
    },
    {
      method: "GET",
      pattern: "/admin/runners/:runner_id/jobs",
      operationId: "AdminListJobs",
      auth: "admin",
      handle: (ctx) => {
        const id = runnerId(ctx);
        return { status: 200, json: listDetails(services, id) };
      },
    },
    {
      method: "GET",
      pattern: "/admin/runner-jobs/:job_id",
      operationId: "AdminGetJob",
      auth: "admin",
      handle: (ctx) => ({ status: 200, json: jobs.detail(ctx.params.job_id ?? "") }),
    },
    {
      method: "POST",
      pattern: "/admin/runner-jobs/:job_id/cancel",
      operationId: "AdminCancelJob",
      auth: "admin",
      handle: (ctx) => {
        const job = jobs.cancel(ctx.params.job_id ?? "", "job cancelled by the admin");
        return { status: 200, json: jobs.detail(job.job.id) };
      },
    },
    {
      method: "POST",
      pattern: "/admin/runners/:runner_id/processes/:process_id/shutdowns",
      operationId: "AdminRequestShutdown",
      auth: "admin",
      handle: async (ctx) => {
        const { type } = parseBody(ShutdownBody, (await ctx.json()) ?? {});
        return {
          status: 201,
          json: runners.requestShutdown(runnerId(ctx), ctx.params.process_id ?? "", type),
        };
      },
    },
    {
      method: "GET",
      pattern: "/admin/stats",
      operationId: "AdminStats",
      auth: "admin",
      handle: () => ({ status: 200, json: services.stats() }),
    },
    {
      method: "GET",
      pattern: "/healthz",
      operationId: "Healthz",
      auth: "none",
      handle: () => ({ status: 200, json: { status: "ok" } }),
    },
  ];
}

/** Every job of a runner (or of all runners) as JobDetail, newest first. */
export function listDetails(services: Services, runnerId?: string) {
  return [...services.store.jobs.values()]
    .filter((job) => runnerId === undefined || job.job.runner_id === runnerId)
    .sort((a, b) => b.seq - a.seq)
    .map((job) => services.jobs.detail(job.job.id));
}
