/**
 * The job state machine (PROTOCOL.md §1.4–1.6): enqueue, the atomic claim, execution status driving the job,
 * cancellation, results and outputs, and the timeouts the monitor enforces. The control plane is the source of
 * truth for job status; runners only report execution status.
 */
import {
  GROUP_OF_TYPE,
  type JobStatus,
  JobStatus as JobStatusSchema,
  msToNs,
  TERMINAL_JOB_STATUSES,
  UpdateExecutionRequest,
  UpdateJobRequest,
} from "../control-plane/schemas.ts";
import { ApiError, invalidRequest, notFound } from "./api-error.ts";
import { AvailableJobs } from "./available-jobs.ts";
import { defaultExecutionTimeoutNs, JOB_TIMEOUT_DEFAULTS_MS } from "./defaults.ts";
import { ID_PREFIX, isoAt, newId } from "./ids.ts";
import { EnqueueJobInputSchema, type ExecutionRecord, type JobDetail, type JobRecord } from "./model.ts";
import { parseBody } from "./runners.ts";
import type { ControlPlaneStore } from "./store.ts";
import { isExecutionRunning, jobToDetail } from "./views.ts";

/** What the engine tells its surroundings. */
export interface JobEngineDeps {
  nowMs: () => number;
  /** A job, one of its executions, or its logs changed. */
  jobChanged: (jobId: string) => void;
  /** A job became available (enqueued or re-offered): long-polls may wake. */
  jobAvailable: (job: JobRecord) => void;
}

/** Query of GET /v1/runners/{id}/jobs (strings as they arrive). */
export interface ListJobsQuery {
  group?: string | null;
  status?: string | null;
  limit?: string | null;
  offset?: string | null;
}

/** Default page size of GET jobs (Nuon's code default; the swagger says 10). */
export const DEFAULT_JOB_LIST_LIMIT = 60;

/** How a terminal execution status ends its job (PROTOCOL.md §1.6 monitorJobExecution). */
const JOB_OUTCOME_OF_EXECUTION: Partial<Record<string, { status: JobStatus; description: string }>> = {
  finished: { status: "finished", description: "finished" },
  failed: { status: "failed", description: "execution failed" },
  "not-attempted": { status: "failed", description: "execution was not attempted" },
  "timed-out": { status: "failed", description: "execution timed out" },
};

const GROUP_BY_TYPE: Readonly<Record<string, string | undefined>> = GROUP_OF_TYPE;

/** Job operations over the store. */
export class JobEngine {
  readonly #store: ControlPlaneStore;
  readonly #deps: JobEngineDeps;
  /** The available jobs by runner (for the long-poll); kept in step with every status change below. */
  readonly #available = new AvailableJobs();

  constructor(store: ControlPlaneStore, deps: JobEngineDeps) {
    this.#store = store;
    this.#deps = deps;
    for (const id of store.activeJobIds) {
      const record = store.jobs.get(id);
      if (record?.job.status === "available") this.#available.add(record);
    }
  }

  /** Creates a job for a runner, `available` at once, with Nuon's default timeouts. */
  enqueue(runnerId: string, body: unknown): JobRecord {
    if (!this.#store.runners.has(runnerId)) throw notFound("runner", runnerId);
    const input = parseBody(EnqueueJobInputSchema, body);
    const nowMs = this.#deps.nowMs();
    const now = isoAt(nowMs);
    const id = newId(ID_PREFIX.job);
    const logStreamId = newId(ID_PREFIX.logStream);
    const maxExecutions = input.max_executions ?? 1;
    const queueNs = input.queue_timeout ?? msToNs(JOB_TIMEOUT_DEFAULTS_MS.queue);
    const availableNs = input.available_timeout ?? msToNs(JOB_TIMEOUT_DEFAULTS_MS.available);
    const executionNs = input.execution_timeout ?? defaultExecutionTimeoutNs(input.type);
    const record: JobRecord = {
      job: {
        id,
        created_at: now,
        updated_at: now,
        org_id: this.#store.orgId,
        runner_id: runnerId,
        owner_id: input.owner_id,
        owner_type: input.owner_type,
        log_stream_id: logStreamId,
        queue_timeout: queueNs,
        available_timeout: availableNs,
        execution_timeout: executionNs,
        overall_timeout: input.overall_timeout ?? queueNs + maxExecutions * (availableNs + executionNs),
        max_executions: maxExecutions,
        type: input.type,
        group: input.group ?? GROUP_BY_TYPE[input.type] ?? "",
        operation: input.operation,
        metadata: input.metadata,
        execution_count: 0,
      },
      plan: input.plan,
      seq: this.#store.nextSeq(),
      executionIds: [],
    };
    this.#store.jobs.set(id, record);
    this.#store.activeJobIds.add(id);
    this.#store.logStreams.set(logStreamId, {
      id: logStreamId,
      runnerId,
      owner: { type: "job", id },
      records: [],
    });
    this.#makeAvailable(record, "waiting for runner to reserve job");
    return record;
  }

  /** The job, or a 404. */
  job(jobId: string): JobRecord {
    const job = this.#store.jobs.get(jobId);
    if (job === undefined) throw notFound("runner job", jobId);
    return job;
  }

  /** The admin view of a job. */
  detail(jobId: string): JobDetail {
    const job = this.job(jobId);
    return jobToDetail(job, this.#store.executionsOf(job), this.#store.logs, job.job.log_stream_id ?? "");
  }

  /** A runner's jobs filtered by group (default any) and status (default available), newest first. */
  list(runnerId: string, query: ListJobsQuery): JobRecord[] {
    const parsedStatus = JobStatusSchema.safeParse(query.status || "available");
    if (!parsedStatus.success) throw invalidRequest(`status: unknown job status "${query.status}"`);
    const status = parsedStatus.data;
    const limit = parseCount("limit", query.limit, DEFAULT_JOB_LIST_LIMIT);
    const offset = parseCount("offset", query.offset, 0);
    const group = query.group || "any";
    const ids = TERMINAL_JOB_STATUSES.has(status) ? this.#store.jobs.keys() : this.#store.activeJobIds;
    const matches: JobRecord[] = [];
    for (const id of ids) {
      const record = this.#store.jobs.get(id);
      if (record === undefined || record.job.runner_id !== runnerId || record.job.status !== status) continue;
      if (group !== "any" && record.job.group !== group) continue;
      matches.push(record);
    }
    matches.sort((a, b) => b.seq - a.seq);
    return matches.slice(offset, offset + limit);
  }

  /** The newest available job of a runner in a group (`any` or empty: every group). */
  newestAvailable(runnerId: string, group: string): JobRecord | undefined {
    return this.#available.newest(runnerId, group);
  }

  /**
   * The claim: atomically creates a `pending` execution and moves the job to `in-progress`. 409 when the job is
   * not available (another runner won); 400 and the job cancelled when its executions are used up.
   */
  claim(jobId: string, clientVersion: string | undefined): ExecutionRecord {
    const job = this.job(jobId);
    if (job.job.status !== "available") {
      throw new ApiError(409, "conflict", `runner job ${jobId} is ${job.job.status}, not available`);
    }
    const count = job.job.execution_count ?? 0;
    if (count >= (job.job.max_executions ?? 1)) {
      this.finish(job, "cancelled", `job has used all ${job.job.max_executions} of its executions`);
      throw invalidRequest(`runner job ${jobId} has reached its max executions (${job.job.max_executions})`);
    }
    const nowMs = this.#deps.nowMs();
    const now = isoAt(nowMs);
    const exec: ExecutionRecord = {
      execution: {
        id: newId(ID_PREFIX.execution),
        created_by_id: job.job.runner_id,
        created_at: now,
        updated_at: now,
        org_id: this.#store.orgId,
        runner_job_id: jobId,
        status: "pending",
        metadata: clientVersion === undefined ? undefined : { "client.version": clientVersion },
      },
      steps: [],
    };
    this.#store.executions.set(exec.execution.id, exec);
    job.executionIds.push(exec.execution.id);
    Object.assign(job.job, {
      status: "in-progress",
      status_description: "in-progress",
      execution_count: count + 1,
      started_at: job.job.started_at ?? now,
      updated_at: now,
    });
    job.availableAtMs = undefined;
    this.#available.remove(job);
    this.#deps.jobChanged(jobId);
    return exec;
  }

  /** The execution of a job, or a 404. */
  execution(jobId: string, executionId: string): ExecutionRecord {
    const job = this.job(jobId);
    const exec = job.executionIds.includes(executionId) ? this.#store.executions.get(executionId) : undefined;
    if (exec === undefined) throw notFound("runner job execution", executionId);
    return exec;
  }

  /** The executions of a job, newest first. */
  executions(jobId: string): ExecutionRecord[] {
    return this.#store.executionsOf(this.job(jobId)).reverse();
  }

  /**
   * PATCH execution `{status}`. `pending` cannot be set again; a terminal execution keeps its status (the
   * control plane decided first). A terminal status drives the job as Nuon's monitor does.
   */
  updateExecutionStatus(jobId: string, executionId: string, body: unknown): ExecutionRecord {
    const exec = this.execution(jobId, executionId);
    const { status } = parseBody(UpdateExecutionRequest, body);
    if (status === "pending" && exec.execution.status !== "pending") {
      throw invalidRequest(`status: an execution cannot go back to pending from ${exec.execution.status}`);
    }
    if (!isExecutionRunning(exec)) return exec;
    exec.execution.status = status;
    exec.execution.updated_at = isoAt(this.#deps.nowMs());
    if (!isExecutionRunning(exec)) this.#onExecutionEnded(this.job(jobId), exec);
    this.#deps.jobChanged(jobId);
    return exec;
  }

  /** PATCH job `{status}` (UpdateRunnerJob, used by shutdown jobs). */
  updateJobStatus(jobId: string, body: unknown): JobRecord {
    const job = this.job(jobId);
    const { status } = parseBody(UpdateJobRequest, body);
    if (status === "available") this.#makeAvailable(job, "made available by the runner");
    else if (TERMINAL_JOB_STATUSES.has(status)) this.finish(job, status, `set to ${status} by the runner`);
    else {
      job.job.status = status;
      job.job.updated_at = isoAt(this.#deps.nowMs());
      this.#available.remove(job);
      this.#deps.jobChanged(jobId);
    }
    return job;
  }

  /** Cancels a job and its running executions; a job already terminal is left as it is. */
  cancel(jobId: string, description = "job cancelled"): JobRecord {
    const job = this.job(jobId);
    if (isTerminal(job.job.status)) return job;
    const now = isoAt(this.#deps.nowMs());
    for (const exec of this.#store.executionsOf(job)) {
      if (isExecutionRunning(exec)) Object.assign(exec.execution, { status: "cancelled", updated_at: now });
    }
    this.finish(job, "cancelled", description);
    return job;
  }

  #onExecutionEnded(job: JobRecord, exec: ExecutionRecord): void {
    if (isTerminal(job.job.status)) return;
    if (job.executionIds.at(-1) !== exec.execution.id) return;
    const status = exec.execution.status;
    if (status === "cancelled") {
      this.retryOrFinish(job, "cancelled", "execution cancelled");
      return;
    }
    const outcome = status === undefined ? undefined : JOB_OUTCOME_OF_EXECUTION[status];
    if (outcome !== undefined) this.finish(job, outcome.status, outcome.description);
  }

  /** Re-offers the job while executions remain, else ends it with `status`. */
  retryOrFinish(job: JobRecord, status: JobStatus, reason: string): void {
    const count = job.job.execution_count ?? 0;
    const max = job.job.max_executions ?? 1;
    if (count < max)
      this.#makeAvailable(job, `${reason}; waiting for runner to reserve job (${count} of ${max})`);
    else this.finish(job, status, reason);
  }

  /** Puts a job (back) up for claiming and wakes a long-poll. */
  #makeAvailable(job: JobRecord, description: string): void {
    const nowMs = this.#deps.nowMs();
    Object.assign(job.job, {
      status: "available",
      status_description: description,
      updated_at: isoAt(nowMs),
    });
    job.job.finished_at = undefined;
    job.availableAtMs = nowMs;
    this.#store.activeJobIds.add(job.job.id);
    this.#available.add(job);
    this.#deps.jobChanged(job.job.id);
    this.#deps.jobAvailable(job);
  }

  /** Ends a job with a terminal status (finished_at, final execution, execution_time). */
  finish(job: JobRecord, status: JobStatus, description: string): void {
    const nowMs = this.#deps.nowMs();
    const startedMs = job.job.started_at === undefined ? undefined : Date.parse(job.job.started_at);
    Object.assign(job.job, {
      status,
      status_description: description,
      finished_at: isoAt(nowMs),
      updated_at: isoAt(nowMs),
      final_runner_job_execution_id: job.executionIds.at(-1),
      execution_time: startedMs === undefined ? undefined : msToNs(nowMs - startedMs),
    });
    job.availableAtMs = undefined;
    this.#store.activeJobIds.delete(job.job.id);
    this.#available.remove(job);
    this.#deps.jobChanged(job.job.id);
  }
}

/** True for a terminal job status. */
export function isTerminal(status: JobStatus | undefined): boolean {
  return status !== undefined && TERMINAL_JOB_STATUSES.has(status);
}

/** Parses a non-negative integer query parameter; a 400 naming it when malformed. */
export function parseCount(name: string, raw: string | null | undefined, fallback: number): number {
  if (raw === undefined || raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw invalidRequest(`${name}: must be a non-negative integer`);
  return value;
}
