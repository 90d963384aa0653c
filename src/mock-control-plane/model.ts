/**
 * The embedded control plane's records and the shapes its admin API returns. Wire shapes come from
 * src/control-plane/schemas.ts; records add what the server needs to remember (plans, results, logs, locks).
 */
import * as z from "zod";
import {
  type CreateResultRequest,
  DurationNs,
  type Execution,
  type HealthCheck,
  type HeartBeat,
  JOB_GROUPS,
  type Job,
  type JobStatus,
  type RunnerProcess,
  type RunnerSettings,
  type StepStatus,
  type TerraformLockInfo,
  type TerraformWorkspace,
} from "../control-plane/schemas.ts";
import type { DecodedLogRecord } from "../otlp/logs-proto.ts";
import type { LogStreamStats } from "./log-store.ts";

/** `T` without its index signature (zod's loose objects carry `[k: string]: unknown`). */
export type Strict<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** The body of an admin enqueue (`POST /admin/runners/{id}/jobs`); durations in integer nanoseconds. */
export interface EnqueueJobInput {
  /** Any string: unknown types are accepted so that runners can be tested against them. */
  type: string;
  operation?: string;
  /** Derived from `type` (GROUP_OF_TYPE) when absent; `""` for unknown types. Must be a job group. */
  group?: string;
  /** Served raw by GET plan: a string as is, anything else as JSON. */
  plan?: unknown;
  metadata?: Record<string, string>;
  owner_id?: string;
  owner_type?: string;
  /** ns; default 24 h. */
  queue_timeout?: number;
  /** ns; default 30 s. */
  available_timeout?: number;
  /** ns; default 5 min or the type's Nuon default. */
  execution_timeout?: number;
  /** ns; default queue + max_executions × (available + execution). */
  overall_timeout?: number;
  /** Default 1. */
  max_executions?: number;
}

/** Validates an EnqueueJobInput (unknown fields refused). */
export const EnqueueJobInputSchema = z.strictObject({
  type: z.string().min(1),
  operation: z.string().optional(),
  /** Derived from `type` (GROUP_OF_TYPE) when absent; `""` for unknown types. */
  group: z.enum(JOB_GROUPS.filter((group) => group !== "any")).optional(),
  /** Served raw by GET plan: a string is served as is, anything else as JSON. */
  plan: z.unknown().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  owner_id: z.string().optional(),
  owner_type: z.string().optional(),
  queue_timeout: z.optional(DurationNs),
  available_timeout: z.optional(DurationNs),
  execution_timeout: z.optional(DurationNs),
  overall_timeout: z.optional(DurationNs),
  /** Default 1. */
  max_executions: z.number().int().positive().optional(),
}) satisfies z.ZodType<EnqueueJobInput>;

/** A job's wire fields (executions are kept apart). */
export type JobFields = Omit<Strict<Job>, "executions">;
/** An execution's wire fields (result and outputs are kept apart). */
export type ExecutionFields = Omit<Strict<Execution>, "result" | "outputs">;

/** One PUT of an action workflow step, as the runner sent it. */
export interface StepUpdate {
  install_id: string;
  workflow_run_id: string;
  step_id: string;
  status: StepStatus;
  execution_duration?: number;
  updated_at: string;
}

/** An execution with everything the runner posted for it. */
export type ExecutionDetail = ExecutionFields & {
  result?: CreateResultRequest;
  outputs?: Record<string, unknown>;
  steps?: StepUpdate[];
};

/**
 * A job as the admin API shows it: wire fields, every execution (oldest first), the decoded logs of its log
 * stream (the newest MAX_LOG_RECORDS_PER_STREAM, decoded when first read), their counters, the plan.
 */
export type JobDetail = JobFields & {
  executions: ExecutionDetail[];
  logs: DecodedLogRecord[];
  /** Records stored, evicted past the cap, re-sent duplicates dropped, and per execution what is missing. */
  logStats: LogStreamStats;
  plan: unknown;
};

/**
 * What `job:changed` carries: where a job stands, cheap to build on every change (a JobDetail copies the job,
 * its executions and its log counters). `executionCount` > 0 once the job was claimed.
 */
export interface JobChange {
  id: string;
  status?: JobStatus;
  executionCount: number;
}

/** A job as stored. */
export interface JobRecord {
  job: JobFields;
  plan: unknown;
  /** Creation order, the tie-breaker for `created_at desc`. */
  seq: number;
  /** Epoch ms when the job last became available (the available timeout counts from here). */
  availableAtMs?: number;
  executionIds: string[];
}

/** An execution as stored. */
export interface ExecutionRecord {
  execution: ExecutionFields;
  result?: CreateResultRequest;
  resultId?: string;
  outputs?: Record<string, unknown>;
  outputsId?: string;
  steps: StepUpdate[];
}

/** A runner as stored. */
export interface RunnerRecord {
  id: string;
  token: string;
  groupId: string;
  createdAt: string;
  updatedAt: string;
  settings: RunnerSettings;
  /** Oldest first, the newest `MAX_HEARTBEATS` kept. */
  heartbeats: HeartBeat[];
  healthChecks: HealthCheck[];
  processes: RunnerProcess[];
}

/** A log stream: each job has one, each registered process has one. Its records are in the LogStore. */
export interface LogStreamRecord {
  id: string;
  runnerId: string;
  owner: { type: "job" | "process"; id: string };
  /** Only in snapshots written before log files existed: moved into the LogStore at load. */
  records?: DecodedLogRecord[];
}

/** A terraform workspace with its state, lock and last `terraform show -json`. */
export interface WorkspaceRecord {
  workspace: Strict<TerraformWorkspace>;
  state?: { id: string; contents: string; revision: number; jobId?: string; updatedAt: string };
  lock?: { info: TerraformLockInfo; jobId?: string; lockedAt: string };
  stateJson?: { contents: string; jobId?: string; updatedAt: string };
}
