/**
 * What a runner reports about an execution besides its status: the result, the outputs (also the job's),
 * action workflow step updates, and the job's log records.
 */
import { CreateOutputsRequest, CreateResultRequest, UpdateStepRequest } from "../control-plane/schemas.ts";
import type { ScannedLogRecord } from "../otlp/logs-scan.ts";
import { notFound } from "./api-error.ts";
import { ID_PREFIX, isoAt, newId } from "./ids.ts";
import type { JobEngine } from "./jobs.ts";
import type { ExecutionRecord, JobRecord } from "./model.ts";
import { parseBody } from "./runners.ts";
import type { ControlPlaneStore } from "./store.ts";
import { isExecutionRunning, omitZero } from "./views.ts";

/** Result, outputs, steps and logs over the store. */
export class JobReports {
  readonly #store: ControlPlaneStore;
  readonly #engine: JobEngine;
  readonly #deps: { nowMs: () => number; jobChanged: (jobId: string) => void };

  constructor(
    store: ControlPlaneStore,
    engine: JobEngine,
    deps: { nowMs: () => number; jobChanged: (jobId: string) => void },
  ) {
    this.#store = store;
    this.#engine = engine;
    this.#deps = deps;
  }

  /** Stores an execution's result (the newest wins); returns the 201 body. */
  createResult(jobId: string, executionId: string, body: unknown): Record<string, unknown> {
    const exec = this.#engine.execution(jobId, executionId);
    const result = parseBody(CreateResultRequest, body);
    exec.result = result;
    exec.resultId = newId(ID_PREFIX.result);
    this.#deps.jobChanged(jobId);
    return omitZero({
      id: exec.resultId,
      created_at: isoAt(this.#deps.nowMs()),
      org_id: this.#store.orgId,
      runner_job_execution_id: executionId,
      success: result.success,
      error_code: result.error_code,
      error_metadata: result.error_metadata,
    });
  }

  /** Stores an execution's outputs, also as the job's outputs; returns the 201 body. */
  createOutputs(jobId: string, executionId: string, body: unknown): Record<string, unknown> {
    const exec = this.#engine.execution(jobId, executionId);
    const { outputs } = parseBody(CreateOutputsRequest, body);
    exec.outputs = outputs;
    exec.outputsId = newId(ID_PREFIX.outputs);
    const job = this.#engine.job(jobId);
    job.job.outputs = outputs;
    job.job.outputs_json = JSON.stringify(outputs);
    this.#deps.jobChanged(jobId);
    return omitZero({
      id: exec.outputsId,
      created_at: isoAt(this.#deps.nowMs()),
      org_id: this.#store.orgId,
      runner_job_execution_id: executionId,
      outputs,
      outputs_json: job.job.outputs_json,
    });
  }

  /**
   * Records an action workflow step update on the runner's execution that it belongs to: the running one
   * whose plan names the step or run, else the newest ended actions-workflow execution whose plan names it (a
   * late report), else its running actions-workflow job, else its only running execution.
   */
  recordStep(
    runnerId: string,
    ref: { installId: string; workflowRunId: string; stepId: string },
    body: unknown,
  ): Record<string, unknown> {
    const input = parseBody(UpdateStepRequest, body);
    const now = isoAt(this.#deps.nowMs());
    const exec = this.#executionForStep(runnerId, ref);
    if (exec !== undefined) {
      exec.steps.push({
        install_id: ref.installId,
        workflow_run_id: ref.workflowRunId,
        step_id: ref.stepId,
        status: input.status,
        execution_duration: input.execution_duration,
        updated_at: now,
      });
      this.#deps.jobChanged(exec.execution.runner_job_id ?? "");
    }
    return omitZero({
      id: ref.stepId,
      step_id: ref.stepId,
      install_action_workflow_run_id: ref.workflowRunId,
      status: input.status,
      execution_duration: input.execution_duration,
      updated_at: now,
    });
  }

  /**
   * Stores a log request body (checked by `scanLogsRequest`, whose result `scanned` is) in its stream: records
   * already stored (same execution and `runner.log.seq`) are dropped, the oldest are evicted past the cap.
   */
  appendLogs(logStreamId: string, body: Buffer, scanned: ScannedLogRecord[]): void {
    const stream = this.#store.logStreams.get(logStreamId);
    if (stream === undefined) throw notFound("log stream", logStreamId);
    const { stored } = this.#store.logs.append(logStreamId, body, scanned);
    if (stored > 0 && stream.owner.type === "job") this.#deps.jobChanged(stream.owner.id);
  }

  #executionForStep(
    runnerId: string,
    ref: { workflowRunId: string; stepId: string },
  ): ExecutionRecord | undefined {
    const candidates: { job: JobRecord; exec: ExecutionRecord }[] = [];
    for (const id of this.#store.activeJobIds) {
      const job = this.#store.jobs.get(id);
      const exec = this.#store.executions.get(job?.executionIds.at(-1) ?? "");
      if (job?.job.runner_id === runnerId && exec !== undefined && isExecutionRunning(exec)) {
        candidates.push({ job, exec });
      }
    }
    const names = (job: JobRecord) => {
      const text = typeof job.plan === "string" ? job.plan : JSON.stringify(job.plan ?? null);
      return text.includes(JSON.stringify(ref.stepId)) || text.includes(JSON.stringify(ref.workflowRunId));
    };
    const named = candidates.find(({ job }) => names(job));
    if (named !== undefined) return named.exec;
    // A report that arrives after its execution ended (the control plane timed it out first, or the runner
    // reports the steps it did not run after the terminal status) still belongs to that workflow run.
    let late: ExecutionRecord | undefined;
    for (const job of this.#store.jobs.values()) {
      if (job.job.runner_id !== runnerId || job.job.type !== "actions-workflow" || !names(job)) continue;
      const exec = this.#store.executions.get(job.executionIds.at(-1) ?? "");
      if (exec !== undefined) late = exec; // the newest such job wins (jobs are kept in creation order)
    }
    if (late !== undefined) return late;
    const actions = candidates.filter(({ job }) => job.job.type === "actions-workflow");
    return (actions.length === 1 ? actions[0] : candidates.length === 1 ? candidates[0] : undefined)?.exec;
  }
}
