/**
 * Zod models of the Nuon Runner API wire format (PROTOCOL.md §1.7, §2; the swagger's `app.*` and `service.*`
 * definitions). Shared by the client (parsing responses) and the embedded control plane (validating requests,
 * shaping responses), so both sides speak exactly one dialect.
 *
 * Wire rules that shape these schemas:
 * - every Go `time.Duration` is an integer of nanoseconds (`*_timeout`, `alive_time`, `execution_duration`);
 * - the server marshals with `omitzero`, so zero-valued fields are absent: response fields are optional;
 * - unknown fields are kept (`z.looseObject`), so a newer control plane never breaks an older runner.
 *
 * Built on zod/mini (functions, not methods: `z.optional(x)`), which a bundler tree-shakes, unlike classic zod
 * (every schema carries every method): the idle runner loads these models. Classic schemas may embed them
 * (`z.nullish(x)`, not `x.nullish()`).
 * Go field-name keys of plans (`caseInsensitiveKeys`) live in go-keys.ts.
 */
import * as z from "zod/mini";
import "../zod-locale.ts";

/** Nanoseconds per millisecond: wire durations are integer nanoseconds. */
export const NS_PER_MS = 1_000_000;

/** Converts wire nanoseconds to milliseconds (rounded down). */
export function nsToMs(ns: number): number {
  return Math.floor(ns / NS_PER_MS);
}

/** Converts milliseconds to wire nanoseconds. */
export function msToNs(ms: number): number {
  return Math.round(ms * NS_PER_MS);
}

/** A wire duration: integer nanoseconds, never negative. */
export const DurationNs = z.number().check(z.int(), z.nonnegative());

/** Job statuses (PROTOCOL.md §1.4). */
export const JOB_STATUSES = [
  "queued",
  "available",
  "in-progress",
  "finished",
  "failed",
  "timed-out",
  "not-attempted",
  "cancelled",
  "unknown",
] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;

/** Job statuses after which nothing more happens to a job. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set([
  "finished",
  "failed",
  "timed-out",
  "not-attempted",
  "cancelled",
]);

/** Execution statuses (PROTOCOL.md §1.5). */
export const EXECUTION_STATUSES = [
  "pending",
  "initializing",
  "in-progress",
  "cleaning-up",
  "finished",
  "failed",
  "timed-out",
  "not-attempted",
  "cancelled",
  "unknown",
] as const;
export const ExecutionStatus = z.enum(EXECUTION_STATUSES);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

/** Execution statuses after which the runner sends nothing more for that execution. */
export const TERMINAL_EXECUTION_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  "finished",
  "failed",
  "timed-out",
  "not-attempted",
  "cancelled",
]);

/** Job groups (PROTOCOL.md §1.1); `any` is a query wildcard, `""` the unknown group. */
export const JOB_GROUPS = [
  "health-checks",
  "sync",
  "build",
  "deploy",
  "sandbox",
  "runner",
  "operations",
  "management",
  "actions",
  "",
  "any",
] as const;
export const JobGroup = z.enum(JOB_GROUPS);
export type JobGroup = z.infer<typeof JobGroup>;

/** Job types the swagger knows (app.RunnerJobType). Responses keep `type` a plain string: an unknown type
 * must fail that one job, never the parse of a whole job list. */
export const JOB_TYPES = [
  "health-check",
  "docker-build",
  "container-image-build",
  "terraform-module-build",
  "helm-chart-build",
  "kubernetes-manifest-build",
  "noop-build",
  "sandbox-build",
  "oci-sync",
  "noop-sync",
  "fetch-image-metadata",
  "terraform-deploy",
  "helm-chart-deploy",
  "job-deploy",
  "kubernetes-manifest-deploy",
  "noop-deploy",
  "shut-down",
  "update-version",
  "noop",
  "mng-vm-shut-down",
  "mng-shut-down",
  "mng-runner-update-version",
  "mng-runner-restart",
  "mng-fetch-token",
  "sandbox-terraform",
  "sandbox-terraform-plan",
  "sandbox-sync-secrets",
  "runner-helm",
  "runner-terraform",
  "runner-local",
  "actions-workflow",
] as const;
export const JobType = z.enum(JOB_TYPES);
export type JobType = z.infer<typeof JobType>;

/** The group a job type belongs to (PROTOCOL.md §1.2; health-check jobs are created in `operations`). */
export const GROUP_OF_TYPE: Readonly<Record<JobType, JobGroup>> = {
  "health-check": "operations",
  "docker-build": "build",
  "container-image-build": "build",
  "terraform-module-build": "build",
  "helm-chart-build": "build",
  "kubernetes-manifest-build": "build",
  "noop-build": "build",
  "sandbox-build": "build",
  "oci-sync": "sync",
  "noop-sync": "sync",
  "fetch-image-metadata": "sync",
  "terraform-deploy": "deploy",
  "helm-chart-deploy": "deploy",
  "job-deploy": "deploy",
  "kubernetes-manifest-deploy": "deploy",
  "noop-deploy": "deploy",
  "shut-down": "operations",
  "update-version": "operations",
  noop: "operations",
  "mng-vm-shut-down": "management",
  "mng-shut-down": "management",
  "mng-runner-update-version": "management",
  "mng-runner-restart": "management",
  "mng-fetch-token": "management",
  "sandbox-terraform": "sandbox",
  "sandbox-terraform-plan": "sandbox",
  "sandbox-sync-secrets": "sandbox",
  "runner-helm": "runner",
  "runner-terraform": "runner",
  "runner-local": "",
  "actions-workflow": "actions",
};

/** Job operations (PROTOCOL.md §1.3). */
export const JOB_OPERATIONS = [
  "exec",
  "build",
  "create-apply-plan",
  "create-teardown-plan",
  "apply-plan",
  "unknown",
] as const;
export const JobOperation = z.enum(JOB_OPERATIONS);
export type JobOperation = z.infer<typeof JobOperation>;

/** Runner statuses (app.RunnerStatus). */
export const RUNNER_STATUSES = [
  "error",
  "active",
  "pending",
  "provisioning",
  "deprovisioning",
  "deprovisioned",
  "reprovisioning",
  "offline",
  "awaiting-install-stack-run",
  "unknown",
] as const;
export const RunnerStatus = z.enum(RUNNER_STATUSES);
export type RunnerStatus = z.infer<typeof RunnerStatus>;

/** Runner process kinds sent in heartbeats and process registration (`""` is `runner run`). */
export const PROCESS_TYPES = ["", "install", "build", "org", "mng"] as const;
export const ProcessType = z.enum(PROCESS_TYPES);
export type ProcessType = z.infer<typeof ProcessType>;

/** Action workflow step statuses the runner reports (PROTOCOL.md §1.10). */
export const STEP_STATUSES = ["in-progress", "finished", "error", "timed-out", "noop", "cancelled"] as const;
export const StepStatus = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof StepStatus>;

const StringMap = z.record(z.string(), z.string());
const AnyMap = z.record(z.string(), z.unknown());

/** stderr.ErrResponse: the control plane's error body. */
export const ErrResponse = z.looseObject({
  error: z.optional(z.string()),
  description: z.optional(z.string()),
  user_error: z.optional(z.boolean()),
});
export type ErrResponse = z.infer<typeof ErrResponse>;

/** app.RunnerGroupSettings (PROTOCOL.md §2.2). */
export const RunnerSettings = z.looseObject({
  id: z.optional(z.string()),
  created_at: z.optional(z.string()),
  updated_at: z.optional(z.string()),
  org_id: z.optional(z.string()),
  runner_group_id: z.optional(z.string()),
  container_image_url: z.optional(z.string()),
  container_image_tag: z.optional(z.string()),
  runner_api_url: z.optional(z.string()),
  runner_binary_url: z.optional(z.string()),
  sandbox_mode: z.optional(z.boolean()),
  heart_beat_timeout: z.optional(DurationNs),
  otel_collector_config: z.optional(z.string()),
  enable_sentry: z.optional(z.boolean()),
  enable_metrics: z.optional(z.boolean()),
  enable_logging: z.optional(z.boolean()),
  logging_level: z.optional(z.string()),
  groups: z.optional(z.array(z.string())),
  metadata: z.optional(StringMap),
  /** group → parallelism as a decimal string (the parallel-runner-jobs flag). */
  job_group_parallelism: z.optional(z.record(z.string(), z.union([z.string(), z.number()]))),
  org_aws_iam_role_arn: z.optional(z.string()),
  org_gcp_service_account: z.optional(z.string()),
  org_k8s_service_account_name: z.optional(z.string()),
  aws_instance_type: z.optional(z.string()),
  aws_max_instance_lifetime: z.optional(z.number().check(z.int())),
  aws_cloudformation_stack_type: z.optional(z.string()),
  aws_tags: z.optional(StringMap),
  local_aws_iam_role_arn: z.optional(z.string()),
  platform: z.optional(z.string()),
  /** Newer control planes: the long-poll tail endpoint is enabled for this runner. */
  long_poll_jobs: z.optional(z.boolean()),
});
export type RunnerSettings = z.infer<typeof RunnerSettings>;

/** app.RunnerJobExecutionResult. */
export const ExecutionResult = z.looseObject({
  id: z.optional(z.string()),
  created_at: z.optional(z.string()),
  runner_job_execution_id: z.optional(z.string()),
  success: z.optional(z.boolean()),
  error_code: z.optional(z.number().check(z.int())),
  error_metadata: z.optional(AnyMap),
  contents: z.optional(z.string()),
  contents_display: z.optional(z.string()),
  contents_gzip: z.optional(z.string()),
  contents_display_gzip: z.optional(z.string()),
});
export type ExecutionResult = z.infer<typeof ExecutionResult>;

/** app.RunnerJobExecutionOutputs. */
export const ExecutionOutputs = z.looseObject({
  id: z.optional(z.string()),
  created_at: z.optional(z.string()),
  runner_job_execution_id: z.optional(z.string()),
  outputs: z.optional(AnyMap),
  outputs_json: z.optional(z.string()),
});
export type ExecutionOutputs = z.infer<typeof ExecutionOutputs>;

/** app.RunnerJobExecution. */
export const Execution = z.looseObject({
  id: z.string(),
  created_by_id: z.optional(z.string()),
  created_at: z.optional(z.string()),
  updated_at: z.optional(z.string()),
  org_id: z.optional(z.string()),
  runner_job_id: z.optional(z.string()),
  status: z.optional(ExecutionStatus),
  result: z.nullish(ExecutionResult),
  outputs: z.nullish(ExecutionOutputs),
  metadata: z.optional(AnyMap),
});
export type Execution = z.infer<typeof Execution>;

/** app.RunnerJob (PROTOCOL.md §1.7). `type` stays a string: see JOB_TYPES. */
export const Job = z.looseObject({
  id: z.string(),
  created_by_id: z.optional(z.string()),
  created_at: z.optional(z.string()),
  updated_at: z.optional(z.string()),
  org_id: z.optional(z.string()),
  runner_id: z.optional(z.string()),
  runner_process_id: z.optional(z.string()),
  owner_id: z.optional(z.string()),
  owner_type: z.optional(z.string()),
  log_stream_id: z.optional(z.string()),
  queue_timeout: z.optional(DurationNs),
  available_timeout: z.optional(DurationNs),
  execution_timeout: z.optional(DurationNs),
  overall_timeout: z.optional(DurationNs),
  max_executions: z.optional(z.number().check(z.int())),
  status: z.optional(JobStatus),
  status_description: z.optional(z.string()),
  type: z.optional(z.string()),
  group: z.optional(z.string()),
  operation: z.optional(z.string()),
  executions: z.nullish(z.array(Execution)),
  started_at: z.optional(z.string()),
  finished_at: z.optional(z.string()),
  metadata: z.nullish(StringMap),
  execution_count: z.optional(z.number().check(z.int())),
  final_runner_job_execution_id: z.optional(z.string()),
  outputs_json: z.optional(z.string()),
  execution_time: z.optional(z.number().check(z.int())),
  outputs: z.nullish(AnyMap),
});
export type Job = z.infer<typeof Job>;

/** A list of jobs (GetRunnerJobs, tail). `null` (Go's nil slice) reads as empty. */
export const JobList = z.pipe(
  z.nullable(z.array(Job)),
  z.transform((jobs: Job[] | null) => jobs ?? []),
);

/** app.Runner (the parts the runner reads). */
export const Runner = z.looseObject({
  id: z.string(),
  name: z.optional(z.string()),
  display_name: z.optional(z.string()),
  org_id: z.optional(z.string()),
  runner_group_id: z.optional(z.string()),
  status: z.optional(z.string()),
  status_description: z.optional(z.string()),
  created_at: z.optional(z.string()),
  updated_at: z.optional(z.string()),
});
export type Runner = z.infer<typeof Runner>;

/** app.RunnerHeartBeat. */
export const HeartBeat = z.looseObject({
  id: z.optional(z.string()),
  runner_id: z.optional(z.string()),
  alive_time: z.optional(z.number().check(z.int())),
  version: z.optional(z.string()),
  process: z.optional(z.string()),
  process_id: z.optional(z.string()),
  started_at: z.optional(z.string()),
  created_at: z.optional(z.string()),
});
export type HeartBeat = z.infer<typeof HeartBeat>;

/** app.RunnerHealthCheck. */
export const HealthCheck = z.looseObject({
  id: z.optional(z.string()),
  runner_id: z.optional(z.string()),
  process: z.optional(z.string()),
  process_id: z.optional(z.string()),
  status: z.optional(z.string()),
  status_code: z.optional(z.number().check(z.int())),
  created_at: z.optional(z.string()),
});
export type HealthCheck = z.infer<typeof HealthCheck>;

/** app.RunnerProcessShutdown. */
export const ProcessShutdown = z.looseObject({
  id: z.optional(z.string()),
  type: z.optional(z.string()),
  status: z.optional(z.string()),
  metadata: z.optional(AnyMap),
});

/** app.RunnerProcess (newer control planes). */
export const RunnerProcess = z.looseObject({
  id: z.string(),
  runner_id: z.optional(z.string()),
  org_id: z.optional(z.string()),
  type: z.optional(z.string()),
  version: z.optional(z.string()),
  started_at: z.optional(z.string()),
  uptime: z.optional(z.number().check(z.int())),
  log_stream_id: z.optional(z.string()),
  shutdowns: z.nullish(z.array(ProcessShutdown)),
  labels: z.nullish(z.array(z.string())),
  warnings: z.nullish(z.array(z.string())),
});
export type RunnerProcess = z.infer<typeof RunnerProcess>;

/** Terraform workspace (the parts the runner reads). */
export const TerraformWorkspace = z.looseObject({
  id: z.string(),
  owner_id: z.optional(z.string()),
  owner_type: z.optional(z.string()),
  created_at: z.optional(z.string()),
});
export type TerraformWorkspace = z.infer<typeof TerraformWorkspace>;

/** app.CompositePlan: one of the typed plans, by job group. Plans themselves are parsed by their handler. */
export const CompositePlan = z.looseObject({
  build_plan: z.nullish(AnyMap),
  deploy_plan: z.nullish(AnyMap),
  action_workflow_run_plan: z.nullish(AnyMap),
  sync_secrets_plan: z.nullish(AnyMap),
  sync_oci_plan: z.nullish(AnyMap),
  sandbox_run_plan: z.nullish(AnyMap),
});
export type CompositePlan = z.infer<typeof CompositePlan>;

// ---------------------------------------------------------------------------------------------------------
// Request bodies (service.*). The embedded control plane validates with these; the client builds them.

/** service.CreateRunnerJobExecutionRequest: an empty object. */
export const CreateExecutionRequest = z.looseObject({});

/** service.UpdateRunnerJobExecutionRequest. */
export const UpdateExecutionRequest = z.object({ status: ExecutionStatus });
export type UpdateExecutionRequest = z.infer<typeof UpdateExecutionRequest>;

/** service.UpdateRunnerJobRequest. */
export const UpdateJobRequest = z.object({ status: JobStatus });
export type UpdateJobRequest = z.infer<typeof UpdateJobRequest>;

/** `error_metadata` the runner sends on failure (PROTOCOL.md §1.10). */
export const ErrorMetadata = z.looseObject({
  step: z.optional(z.string()),
  handler: z.optional(z.string()),
  job_type: z.optional(z.string()),
  message: z.optional(z.string()),
});
export type ErrorMetadata = z.infer<typeof ErrorMetadata>;

/** service.CreateRunnerJobExecutionResultRequest. `*_compressed` are base64url(gzip(bytes)). */
export const CreateResultRequest = z.object({
  success: z.boolean(),
  error_code: z.optional(z.number().check(z.int())),
  error_metadata: z.optional(AnyMap),
  contents: z.optional(z.string()),
  contents_display: z.optional(z.unknown()),
  contents_compressed: z.optional(z.string()),
  contents_display_compressed: z.optional(z.string()),
});
export type CreateResultRequest = z.infer<typeof CreateResultRequest>;

/** service.CreateRunnerJobExecutionOutputsRequest: `outputs` accepts any JSON object. */
export const CreateOutputsRequest = z.object({ outputs: AnyMap });
export type CreateOutputsRequest = z.infer<typeof CreateOutputsRequest>;

/** service.CreateRunnerHeartBeatRequest: `alive_time` (ns since process start) is required. */
export const HeartBeatRequest = z.object({
  alive_time: DurationNs,
  version: z.optional(z.string()),
  process: z.optional(z.string()),
  process_id: z.optional(z.string()),
});
export type HeartBeatRequest = z.infer<typeof HeartBeatRequest>;

/** service.CreateRunnerHealthCheckRequest. */
export const HealthCheckRequest = z.object({ process: z.optional(z.string()) });
export type HealthCheckRequest = z.infer<typeof HealthCheckRequest>;

/** service.CreateRunnerProcessRequest. */
export const CreateProcessRequest = z.object({ type: z.string(), version: z.optional(z.string()) });
export type CreateProcessRequest = z.infer<typeof CreateProcessRequest>;

/** service.UpdateRunnerProcessRequest. */
export const UpdateProcessRequest = z.object({
  status: z.string().check(z.minLength(1)),
  status_description: z.optional(z.string()),
});
export type UpdateProcessRequest = z.infer<typeof UpdateProcessRequest>;

/** service.UpdateInstallActionWorkflowRunStepRequest. */
export const UpdateStepRequest = z.object({
  status: StepStatus,
  execution_duration: z.optional(DurationNs),
});
export type UpdateStepRequest = z.infer<typeof UpdateStepRequest>;

/** Terraform http-backend lock info (the body terraform sends to LOCK). */
export const TerraformLockInfo = z.looseObject({
  ID: z.string(),
  Operation: z.optional(z.string()),
  Info: z.optional(z.string()),
  Who: z.optional(z.string()),
  Version: z.optional(z.string()),
  Created: z.optional(z.string()),
  Path: z.optional(z.string()),
});
export type TerraformLockInfo = z.infer<typeof TerraformLockInfo>;
