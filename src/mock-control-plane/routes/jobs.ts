/** `/v1/runner-jobs/...` routes: job, plans, the claim, execution status, results, outputs, cancel; action steps. */
import { CreateExecutionRequest } from "../../control-plane/schemas.ts";
import type { Route, RouteContext } from "../http.ts";
import { parseBody } from "../runners.ts";
import { compositePlanOf, executionToWire, jobToWire, planText } from "../views.ts";
import { accessibleJob, callerRunnerId, type Services } from "./services.ts";

/** The runner-job routes. */
export function jobRoutes(services: Services): Route[] {
  const { jobs } = services;
  const jobId = (ctx: RouteContext) => accessibleJob(ctx, services, ctx.params.job_id ?? "").job.id;
  const executionId = (ctx: RouteContext) => ctx.params.execution_id ?? "";
  return [
    {
      method: "GET",
      pattern: "/v1/runner-jobs/:job_id",
      operationId: "GetRunnerJob",
      auth: "runner",
      handle: (ctx) => {
        const job = accessibleJob(ctx, services, ctx.params.job_id ?? "");
        return { status: 200, json: jobToWire(job, jobs.executions(job.job.id).slice(0, 1)) };
      },
    },
    {
      method: "PATCH",
      pattern: "/v1/runner-jobs/:job_id",
      operationId: "UpdateRunnerJob",
      auth: "runner",
      handle: async (ctx) => ({
        status: 200,
        json: jobToWire(jobs.updateJobStatus(jobId(ctx), await ctx.json())),
      }),
    },
    {
      method: "GET",
      pattern: "/v1/runner-jobs/:job_id/plan",
      operationId: "GetRunnerJobPlan",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        text: planText(accessibleJob(ctx, services, ctx.params.job_id ?? "")),
        contentType: "text/plain; charset=utf-8",
      }),
    },
    {
      method: "GET",
      pattern: "/v1/runner-jobs/:job_id/composite-plan",
      operationId: "GetRunnerJobCompositePlan",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        json: compositePlanOf(accessibleJob(ctx, services, ctx.params.job_id ?? "")),
      }),
    },
    {
      method: "GET",
      pattern: "/v1/runner-jobs/:job_id/executions",
      operationId: "GetRunnerJobExecutions",
      auth: "runner",
      handle: (ctx) => ({ status: 200, json: jobs.executions(jobId(ctx)).map(executionToWire) }),
    },
    {
      method: "POST",
      pattern: "/v1/runner-jobs/:job_id/executions",
      operationId: "CreateRunnerJobExecution",
      auth: "runner",
      handle: async (ctx) => {
        const id = jobId(ctx);
        parseBody(CreateExecutionRequest, (await ctx.json()) ?? {});
        const version = ctx.req.headers["x-nuon-client-version"];
        // Synchronous from here on: the check and the insert cannot interleave with another claim.
        const exec = jobs.claim(id, typeof version === "string" ? version : undefined);
        return { status: 201, json: executionToWire(exec) };
      },
    },
    {
      method: "GET",
      pattern: "/v1/runner-jobs/:job_id/executions/:execution_id",
      operationId: "GetRunnerJobExecution",
      auth: "runner",
      handle: (ctx) => ({ status: 200, json: executionToWire(jobs.execution(jobId(ctx), executionId(ctx))) }),
    },
    {
      method: "PATCH",
      pattern: "/v1/runner-jobs/:job_id/executions/:execution_id",
      operationId: "UpdateRunnerJobExecution",
      auth: "runner",
      handle: async (ctx) => {
        const id = jobId(ctx);
        const exec = jobs.updateExecutionStatus(id, executionId(ctx), await ctx.json());
        return { status: 200, json: executionToWire(exec) };
      },
    },
    {
      method: "POST",
      pattern: "/v1/runner-jobs/:job_id/executions/:execution_id/result",
      operationId: "CreateRunnerJobExecutionResult",
      auth: "runner",
      handle: async (ctx) => {
        const id = jobId(ctx);
        return { status: 201, json: services.reports.createResult(id, executionId(ctx), await ctx.json()) };
      },
    },
    {
      method: "POST",
      pattern: "/v1/runner-jobs/:job_id/executions/:execution_id/outputs",
      operationId: "CreateRunnerJobExecutionOutputs",
      auth: "runner",
      handle: async (ctx) => {
        const id = jobId(ctx);
        return { status: 201, json: services.reports.createOutputs(id, executionId(ctx), await ctx.json()) };
      },
    },
    {
      method: "POST",
      pattern: "/v1/runner-jobs/:job_id/cancel",
      operationId: "CancelRunnerJob",
      auth: "runner",
      handle: (ctx) => ({
        status: 200,
        json: jobToWire(jobs.cancel(jobId(ctx), "job cancelled by request")),
      }),
    },
    {
      method: "PUT",
      pattern: "/v1/installs/:install_id/action-workflow-runs/:workflow_run_id/steps/:step_id",
      operationId: "UpdateInstallActionWorkflowRunStep",
      auth: "runner",
      handle: async (ctx) => {
        const ref = {
          installId: ctx.params.install_id ?? "",
          workflowRunId: ctx.params.workflow_run_id ?? "",
          stepId: ctx.params.step_id ?? "",
        };
        return {
          status: 200,
          json: services.reports.recordStep(callerRunnerId(ctx) ?? "", ref, await ctx.json()),
        };
      },
    },
  ];
}
