/**
 * Zod models of the Nuon Runner API wire format (PROTOCOL.md §1.7, §2; the swagger's `app.*` and `service.*`
 * definitions). Shared by the client (parsing responses) and the embedded control plane (validating requests,
 * shaping responses), so both sides speak exactly one dialect.
 *
 * Wire rules that shape these schemas:
 * - every Go `time.Duration` is an integer of nanoseconds (`*_timeout`, `alive_time`, `execution_duration`);
 * - the server marshals with `omitzero`, so zero-valued fields are absent: response fields are optional;
 * - unknown fields are kept (`z.looseObject`), so a newer control plane never breaks an older runner.
 */
import { z } from "zod";

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
export const DurationNs = z.number().int().nonnegative();

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
  error: z.string().optional(),
  description: z.string().optional(),
  user_error: z.boolean().optional(),
});
export type ErrResponse = z.infer<typeof ErrResponse>;

/** app.RunnerGroupSettings (PROTOCOL.md §2.2). */
export const RunnerSettings = z.looseObject({
  id: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  org_id: z.string().optional(),
  runner_group_id: z.string().optional(),
  container_image_url: z.string().optional(),
  container_image_tag: z.string().optional(),
  runner_api_url: z.string().optional(),
  runner_binary_url: z.string().optional(),
  sandbox_mode: z.boolean().optional(),
  heart_beat_timeout: DurationNs.optional(),
  otel_collector_config: z.string().optional(),
  enable_sentry: z.boolean().optional(),
  enable_metrics: z.boolean().optional(),
  enable_logging: z.boolean().optional(),
  logging_level: z.string().optional(),
  groups: z.array(z.string()).optional(),
  metadata: StringMap.optional(),
  /** group → parallelism as a decimal string (the parallel-runner-jobs flag). */
  job_group_parallelism: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  org_aws_iam_role_arn: z.string().optional(),
  org_gcp_service_account: z.string().optional(),
  org_k8s_service_account_name: z.string().optional(),
  aws_instance_type: z.string().optional(),
  aws_max_instance_lifetime: z.number().int().optional(),
  aws_cloudformation_stack_type: z.string().optional(),
  aws_tags: StringMap.optional(),
  local_aws_iam_role_arn: z.string().optional(),
  platform: z.string().optional(),
  /** Newer control planes: the long-poll tail endpoint is enabled for this runner. */
  long_poll_jobs: z.boolean().optional(),
});
export type RunnerSettings = z.infer<typeof RunnerSettings>;

/** app.RunnerJobExecutionResult. */
export const ExecutionResult = z.looseObject({
  id: z.string().optional(),
  created_at: z.string().optional(),
  runner_job_execution_id: z.string().optional(),
  success: z.boolean().optional(),
  error_code: z.number().int().optional(),
  error_metadata: AnyMap.optional(),
  contents: z.string().optional(),
  contents_display: z.string().optional(),
  contents_gzip: z.string().optional(),
  contents_display_gzip: z.string().optional(),
});
export type ExecutionResult = z.infer<typeof ExecutionResult>;

/** app.RunnerJobExecutionOutputs. */
export const ExecutionOutputs = z.looseObject({
  id: z.string().optional(),
  created_at: z.string().optional(),
  runner_job_execution_id: z.string().optional(),
  outputs: AnyMap.optional(),
  outputs_json: z.string().optional(),
});
export type ExecutionOutputs = z.infer<typeof ExecutionOutputs>;

/** app.RunnerJobExecution. */
export const Execution = z.looseObject({
  id: z.string(),
  created_by_id: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  org_id: z.string().optional(),
  runner_job_id: z.string().optional(),
  status: ExecutionStatus.optional(),
  result: ExecutionResult.nullish(),
  outputs: ExecutionOutputs.nullish(),
  metadata: AnyMap.optional(),
});
export type Execution = z.infer<typeof Execution>;

/** app.RunnerJob (PROTOCOL.md §1.7). `type` stays a string: see JOB_TYPES. */
export const Job = z.looseObject({
  id: z.string(),
  created_by_id: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  org_id: z.string().optional(),
  runner_id: z.string().optional(),
  runner_process_id: z.string().optional(),
  owner_id: z.string().optional(),
  owner_type: z.string().optional(),
  log_stream_id: z.string().optional(),
  queue_timeout: DurationNs.optional(),
  available_timeout: DurationNs.optional(),
  execution_timeout: DurationNs.optional(),
  overall_timeout: DurationNs.optional(),
  max_executions: z.number().int().optional(),
  status: JobStatus.optional(),
  status_description: z.string().optional(),
  type: z.string().optional(),
  group: z.string().optional(),
  operation: z.string().optional(),
  executions: z.array(Execution).nullish(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  metadata: StringMap.nullish(),
  execution_count: z.number().int().optional(),
  final_runner_job_execution_id: z.string().optional(),
  outputs_json: z.string().optional(),
  execution_time: z.number().int().optional(),
  outputs: AnyMap.nullish(),
});
export type Job = z.infer<typeof Job>;

/** A list of jobs (GetRunnerJobs, tail). `null` (Go's nil slice) reads as empty. */
export const JobList = z
  .array(Job)
  .nullable()
  .transform((jobs) => jobs ?? []);

/** app.Runner (the parts the runner reads). */
export const Runner = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  display_name: z.string().optional(),
  org_id: z.string().optional(),
  runner_group_id: z.string().optional(),
  status: z.string().optional(),
  status_description: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type Runner = z.infer<typeof Runner>;

/** app.RunnerHeartBeat. */
export const HeartBeat = z.looseObject({
  id: z.string().optional(),
  runner_id: z.string().optional(),
  alive_time: z.number().int().optional(),
  version: z.string().optional(),
  process: z.string().optional(),
  process_id: z.string().optional(),
  started_at: z.string().optional(),
  created_at: z.string().optional(),
});
export type HeartBeat = z.infer<typeof HeartBeat>;

/** app.RunnerHealthCheck. */
export const HealthCheck = z.looseObject({
  id: z.string().optional(),
  runner_id: z.string().optional(),
  process: z.string().optional(),
  process_id: z.string().optional(),
  status: z.string().optional(),
  status_code: z.number().int().optional(),
  created_at: z.string().optional(),
});
export type HealthCheck = z.infer<typeof HealthCheck>;

/** app.RunnerProcessShutdown. */
export const ProcessShutdown = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  status: z.string().optional(),
  metadata: AnyMap.optional(),
});

/** app.RunnerProcess (newer control planes). */
export const RunnerProcess = z.looseObject({
  id: z.string(),
  runner_id: z.string().optional(),
  org_id: z.string().optional(),
  type: z.string().optional(),
  version: z.string().optional(),
  started_at: z.string().optional(),
  uptime: z.number().int().optional(),
  log_stream_id: z.string().optional(),
  shutdowns: z.array(ProcessShutdown).nullish(),
  labels: z.array(z.string()).nullish(),
  warnings: z.array(z.string()).nullish(),
});
export type RunnerProcess = z.infer<typeof RunnerProcess>;

/** Terraform workspace (the parts the runner reads). */
export const TerraformWorkspace = z.looseObject({
  id: z.string(),
  owner_id: z.string().optional(),
  owner_type: z.string().optional(),
  created_at: z.string().optional(),
});
export type TerraformWorkspace = z.infer<typeof TerraformWorkspace>;

/** app.CompositePlan: one of the typed plans, by job group. Plans themselves are parsed by their handler. */
export const CompositePlan = z.looseObject({
  build_plan: AnyMap.nullish(),
  deploy_plan: AnyMap.nullish(),
  action_workflow_run_plan: AnyMap.nullish(),
  sync_secrets_plan: AnyMap.nullish(),
  sync_oci_plan: AnyMap.nullish(),
  sandbox_run_plan: AnyMap.nullish(),
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
  step: z.string().optional(),
  handler: z.string().optional(),
  job_type: z.string().optional(),
  message: z.string().optional(),
});
export type ErrorMetadata = z.infer<typeof ErrorMetadata>;

/** service.CreateRunnerJobExecutionResultRequest. `*_compressed` are base64url(gzip(bytes)). */
export const CreateResultRequest = z.object({
  success: z.boolean(),
  error_code: z.number().int().optional(),
  error_metadata: AnyMap.optional(),
  contents: z.string().optional(),
  contents_display: z.unknown().optional(),
  contents_compressed: z.string().optional(),
  contents_display_compressed: z.string().optional(),
});
export type CreateResultRequest = z.infer<typeof CreateResultRequest>;

/** service.CreateRunnerJobExecutionOutputsRequest: `outputs` accepts any JSON object. */
export const CreateOutputsRequest = z.object({ outputs: AnyMap });
export type CreateOutputsRequest = z.infer<typeof CreateOutputsRequest>;

/** service.CreateRunnerHeartBeatRequest: `alive_time` (ns since process start) is required. */
export const HeartBeatRequest = z.object({
  alive_time: DurationNs,
  version: z.string().optional(),
  process: z.string().optional(),
  process_id: z.string().optional(),
});
export type HeartBeatRequest = z.infer<typeof HeartBeatRequest>;

/** service.CreateRunnerHealthCheckRequest. */
export const HealthCheckRequest = z.object({ process: z.string().optional() });
export type HealthCheckRequest = z.infer<typeof HealthCheckRequest>;

/** service.CreateRunnerProcessRequest. */
export const CreateProcessRequest = z.object({ type: z.string(), version: z.string().optional() });
export type CreateProcessRequest = z.infer<typeof CreateProcessRequest>;

/** service.UpdateRunnerProcessRequest. */
export const UpdateProcessRequest = z.object({
  status: z.string().min(1),
  status_description: z.string().optional(),
});
export type UpdateProcessRequest = z.infer<typeof UpdateProcessRequest>;

/** service.UpdateInstallActionWorkflowRunStepRequest. */
export const UpdateStepRequest = z.object({
  status: StepStatus,
  execution_duration: DurationNs.optional(),
});
export type UpdateStepRequest = z.infer<typeof UpdateStepRequest>;

/** Terraform http-backend lock info (the body terraform sends to LOCK). */
export const TerraformLockInfo = z.looseObject({
  ID: z.string(),
  Operation: z.string().optional(),
  Info: z.string().optional(),
  Who: z.string().optional(),
  Version: z.string().optional(),
  Created: z.string().optional(),
  Path: z.string().optional(),
});
export type TerraformLockInfo = z.infer<typeof TerraformLockInfo>;

// ---------------------------------------------------------------------------------------------------------
// Go structs without json tags (PROTOCOL.md §0): keys arrive as Go field names ("WorkspaceID") while the
// swagger shows camelCase ("workspaceID"). Go decodes them case-insensitively; so must we.

/**
 * Wraps an object schema so that input keys matching a declared key case-insensitively are renamed to the
 * declared key before parsing ("WorkspaceID", "workspaceID" and "workspaceid" all read as `workspace_id`'s
 * declared spelling). Exact matches win; other keys pass through unchanged.
 */
export function caseInsensitiveKeys<T extends z.ZodObject>(schema: T) {
  const declared = Object.keys(schema.shape);
  const byLower = new Map(declared.map((key) => [key.toLowerCase(), key]));
  return z.preprocess((input) => {
    if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      const target = key in schema.shape ? key : (byLower.get(key.toLowerCase()) ?? key);
      if (!(target in out) || key === target) out[target] = value;
    }
    return out;
  }, schema);
}

/** Terraform backend config in plans: `{"WorkspaceID": "..."}` (no json tags). */
export const TerraformBackendConfig = caseInsensitiveKeys(
  z.looseObject({ WorkspaceID: z.string().optional() }),
);
