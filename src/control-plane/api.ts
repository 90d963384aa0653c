/**
 * The control-plane operations the runner uses (PROTOCOL.md §2), as one typed interface. `client.ts`
 * implements it over HTTP; the agent and handlers depend only on this interface.
 *
 * Every method accepts an optional `signal` (cancel the call) and throws `ControlPlaneError`
 * (see errors.ts) on failure. Durations on the wire are integer nanoseconds.
 */
import type {
  CompositePlan,
  CreateResultRequest,
  Execution,
  ExecutionOutputs,
  ExecutionStatus,
  HealthCheck,
  HeartBeat,
  HeartBeatRequest,
  Job,
  JobStatus,
  Runner,
  RunnerProcess,
  RunnerSettings,
  StepStatus,
  TerraformLockInfo,
} from "./schemas.ts";

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
  /** Overrides the per-request deadline in milliseconds. */
  timeoutMs?: number;
}

/** Query for listing a runner's jobs. */
export interface ListJobsQuery {
  /** Job group; the server defaults to `any`. */
  group?: string;
  /** Job status; the server defaults to `available`. */
  status?: JobStatus;
  /** Page size; the server defaults to 60 (the swagger says 10). */
  limit?: number;
  offset?: number;
}

/** The result of one long-poll on the tail endpoint. */
export type TailResult =
  /** The control plane offers the endpoint; `jobs` holds at most one available job (empty after `waitMs`). */
  | { supported: true; jobs: Job[] }
  /** The control plane answered 404: it does not offer long-polling; fall back to polling. */
  | { supported: false };

/** The result body a runner posts: `contents`/`contentsDisplay` are compressed by the client. */
export interface ResultInput {
  success: boolean;
  errorCode?: number;
  errorMetadata?: Record<string, unknown>;
  /** Raw bytes (e.g. a tfplan); sent as `contents_compressed` = base64url(gzip(bytes)). */
  contents?: Uint8Array | string;
  /** Display bytes (e.g. `terraform show -json`); sent as `contents_display_compressed`. */
  contentsDisplay?: Uint8Array | string;
}

/** Identifies a terraform workspace operation: the workspace and the job holding it. */
export interface WorkspaceRef {
  workspaceId: string;
  jobId?: string;
}

/** The Nuon Runner API, as the runner calls it. */
export interface ControlPlaneApi {
  /** The runner id this client acts for. */
  readonly runnerId: string;
  /** The base URL (no trailing slash), e.g. for terraform's http backend address. */
  readonly baseUrl: string;

  /** GET /v1/runners/{id}/settings */
  getSettings(opts?: CallOptions): Promise<RunnerSettings>;
  /** GET /v1/runners/{id} */
  getRunner(opts?: CallOptions): Promise<Runner>;
  /** GET /v1/runners/{id}/jobs?group&status&limit&offset (newest first, as the server orders them). */
  listJobs(query: ListJobsQuery, opts?: CallOptions): Promise<Job[]>;
  /** GET /v1/runners/{id}/jobs/tail?group&wait — long-poll; `{supported:false}` on 404. */
  tailJobs(group: string, waitMs: number, opts?: CallOptions): Promise<TailResult>;
  /** GET /v1/runner-jobs/{jobId} */
  getJob(jobId: string, opts?: CallOptions): Promise<Job>;
  /** GET /v1/runner-jobs/{jobId}/plan — the raw plan JSON text, unparsed. */
  getPlanText(jobId: string, opts?: CallOptions): Promise<string>;
  /** GET /v1/runner-jobs/{jobId}/composite-plan */
  getCompositePlan(jobId: string, opts?: CallOptions): Promise<CompositePlan>;
  /**
   * POST /v1/runner-jobs/{jobId}/executions — the claim (201). Losing a race to another runner throws a
   * ControlPlaneError with code `CLAIM_LOST`.
   */
  createExecution(jobId: string, opts?: CallOptions): Promise<Execution>;
  /** PATCH /v1/runner-jobs/{jobId}/executions/{executionId} `{status}` */
  updateExecutionStatus(
    jobId: string,
    executionId: string,
    status: ExecutionStatus,
    opts?: CallOptions,
  ): Promise<void>;
  /** POST …/executions/{executionId}/result (contents gzip + base64url compressed). */
  createResult(jobId: string, executionId: string, result: ResultInput, opts?: CallOptions): Promise<void>;
  /** The exact body `createResult` sends, for callers that want to inspect or record it. */
  buildResultBody(result: ResultInput): CreateResultRequest;
  /** POST …/executions/{executionId}/outputs `{outputs}` */
  createOutputs(
    jobId: string,
    executionId: string,
    outputs: Record<string, unknown>,
    opts?: CallOptions,
  ): Promise<ExecutionOutputs>;
  /** POST /v1/runners/{id}/heart-beats */
  heartbeat(body: HeartBeatRequest, opts?: CallOptions): Promise<HeartBeat>;
  /** POST /v1/runners/{id}/health-checks */
  healthCheck(process: string, opts?: CallOptions): Promise<HealthCheck>;
  /** POST /v1/runners/{id}/processes — `undefined` when the control plane does not offer processes (404). */
  createProcess(type: string, version: string, opts?: CallOptions): Promise<RunnerProcess | undefined>;
  /** PATCH /v1/runners/{id}/processes/{processId} */
  updateProcess(processId: string, status: string, description?: string, opts?: CallOptions): Promise<void>;
  /** POST /v1/runners/{id}/processes/{processId}/shutdowns/{shutdownId}/complete */
  completeShutdown(processId: string, shutdownId: string, opts?: CallOptions): Promise<void>;
  /** PUT /v1/installs/{installId}/action-workflow-runs/{workflowRunId}/steps/{stepId} */
  updateActionStep(
    ref: { installId: string; workflowRunId: string; stepId: string },
    status: StepStatus,
    executionDurationNs?: number,
    opts?: CallOptions,
  ): Promise<void>;
  /** POST /v1/terraform-workspaces/{ws}/lock?job_id — body is terraform's lock info. */
  lockWorkspace(ref: WorkspaceRef, lock: TerraformLockInfo, opts?: CallOptions): Promise<void>;
  /** POST /v1/terraform-workspaces/{ws}/unlock */
  unlockWorkspace(ref: WorkspaceRef, opts?: CallOptions): Promise<void>;
  /** POST /v1/terraform-workspaces/{ws}/state-json?job_id — body is `terraform show -json` output. */
  pushStateJson(ref: WorkspaceRef, stateJson: string, opts?: CallOptions): Promise<void>;
  /** POST /v1/log-streams/{logStreamId}/logs — body is an OTLP ExportLogsServiceRequest (protobuf bytes). */
  writeLogs(logStreamId: string, otlpProtobuf: Uint8Array, opts?: CallOptions): Promise<void>;
}
