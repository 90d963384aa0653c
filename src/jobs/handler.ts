/**
 * The step interface: what a job handler is, and the context each step receives. The pipeline (run-job.ts)
 * calls the steps in order `reset → fetch → validate → initialize → execute → outputs → cleanup`, PATCHing the
 * execution status before them; handlers only do the work and throw on failure. Only run-job.ts turns what
 * happened into a status and a result.
 */
import type { ControlPlaneApi } from "../control-plane/api.ts";
import type { Execution, Job } from "../control-plane/schemas.ts";

/** Why a job's signal aborted; `signal.reason` is always one of these. */
export interface AbortReason {
  /** `cancelled`: by the control plane; `timed-out`: execution_timeout passed; `drain`: the drain timeout
   * ran out; `shutdown`: the runner was told to stop at once (a second signal). */
  kind: "cancelled" | "timed-out" | "drain" | "shutdown";
  /** A sentence saying what happened. */
  message: string;
}

/** Type guard for an AbortReason (a signal's reason may be anything). */
export function isAbortReason(value: unknown): value is AbortReason {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as AbortReason).kind === "string" &&
    typeof (value as AbortReason).message === "string"
  );
}

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * A job's log. For now a pino child logger writes it; the durable log shipper (OTLP to the job's log stream)
 * implements the same shape later.
 */
export interface JobLog {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** One line of a child process's output. */
  line(text: string, stream: "stdout" | "stderr"): void;
}

/** What the runner tells handlers about itself (read-only views). */
export interface RunnerState {
  /** Process type sent in heartbeats: "" (run), "install", "build", "org", "mng". */
  processType: string;
  /** When the runner process started (epoch ms). */
  startedAtMs: number;
  /** Per job loop: nanoseconds since that loop last checked for work (never 0; see PROTOCOL.md §3). */
  jobLoops(): Record<string, number>;
  /** Asks the runner to drain and exit 0 (the supervisor restarts it); `force` skips waiting for other jobs. */
  requestExit(reason: string, options?: { force?: boolean }): void;
}

/** Bytes a handler wants posted in the execution result (e.g. a terraform plan). */
export interface ResultContents {
  /** Raw bytes or text, sent compressed as `contents_compressed`. */
  contents?: Uint8Array | string;
  /** Display bytes, sent compressed as `contents_display_compressed`. */
  contentsDisplay?: Uint8Array | string;
}

/** The context of the steps that run before the plan is known (`reset`). */
export interface BaseJobContext {
  job: Job;
  execution: Execution;
  /** Aborts with an AbortReason on cancel, timeout, drain or shutdown. */
  signal: AbortSignal;
  log: JobLog;
  client: ControlPlaneApi;
  /** Set by handlers; posted in the result on success. */
  result: ResultContents;
  /** Outputs handlers collect during execute; merged with what `outputs()` returns and posted. */
  outputs: Record<string, unknown>;
  /** A directory reserved for this job, when the runner has one and the handler needs it (`needsWorkspace`). */
  workspaceDir?: string;
  /** Milliseconds a started process gets between SIGTERM and SIGKILL when the signal aborts. */
  killGraceMs: number;
  runnerState: RunnerState;
}

/** The context of every step from `fetch` on: the parsed plan is known. */
export interface JobContext<Plan> extends BaseJobContext {
  plan: Plan;
}

/** A job handler: a parse function plus steps. Only `name`, `parsePlan` and `execute` are required. */
export interface JobHandler<Plan = unknown> {
  /** Name used in logs and `error_metadata.handler`. */
  name: string;
  /**
   * Whether the job gets a workspace: a fresh, private (0700) directory in `ctx.workspaceDir`, made before
   * `reset` and removed after `cleanup`. Default true. A handler that never reads `workspaceDir` sets false and
   * its jobs get none (nothing is made or removed on disk for them, and `workspaceDir` is unset).
   */
  needsWorkspace?: boolean;
  /** Parses the raw plan (JSON-parsed, `null` when empty); throw a ZodError to name the bad field. */
  parsePlan(raw: unknown): Plan;
  /** Clears what a previous attempt left behind. */
  reset?(ctx: BaseJobContext): Promise<void>;
  /** Fetches what the job needs besides the plan (sources, configs). */
  fetch?(ctx: JobContext<Plan>): Promise<void>;
  validate?(ctx: JobContext<Plan>): Promise<void>;
  initialize?(ctx: JobContext<Plan>): Promise<void>;
  /** Does the work; throws on failure. */
  execute(ctx: JobContext<Plan>): Promise<void>;
  /** Returns the outputs to post (merged over ctx.outputs). */
  outputs?(ctx: JobContext<Plan>): Promise<Record<string, unknown>>;
  /** Always runs after execute/outputs, on success and on failure. */
  cleanup?(ctx: JobContext<Plan>): Promise<void>;
  /** Called once when the job's signal aborts, before the pipeline gives up on the running step. */
  gracefulShutdown?(ctx: BaseJobContext, reason: AbortReason): Promise<void>;
  /** Called after the terminal status was delivered (e.g. shut-down asks the runner to exit). */
  afterFinished?(ctx: BaseJobContext, status: string): void;
}

/** Builds a handler for one job. */
export type HandlerFactory = () => JobHandler<unknown> | Promise<JobHandler<unknown>>;
