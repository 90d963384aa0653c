/**
 * The step pipeline: THE one place where what happened to a job becomes an execution status and a result.
 *
 * `reset → fetch → validate → initialize` run under status `initializing`, `execute → outputs` under
 * `in-progress`, `cleanup` under `cleaning-up` (PROTOCOL.md §1.10). The plan text is requested as soon as the
 * handler is known, alongside the `initializing` PATCH (the fetch step waits for it); no step runs before
 * `beforeFirstStep` settled. A handler that declares `needsWorkspace: false` gets no workspace. A throwing
 * step fails the job (cleanup still runs after execute/outputs); an expired `execution_timeout` gives
 * `timed-out`; a cancel by the control plane gives `cancelled`; a drain or shutdown abort gives `failed`.
 * `runJob` never throws.
 *
 * Non-terminal statuses go through a status queue (status-queue.ts): every one is sent, in the order the
 * pipeline reached it, each after the previous one was answered, and no step waits for them (best effort: the
 * client retries; a failure is logged and the job goes on). The terminal status and the result are returned
 * as a JobOutcome, with `statusesSent` (the queue drained); the agent delivers them (retrying until the
 * control plane acknowledges), the terminal status after `statusesSent`, so a control-plane outage never loses
 * a finished job and no status arrives after the terminal one.
 */
import * as z from "zod/mini";
import { $ZodError } from "zod/v4/core";
import type { ControlPlaneApi, ResultInput } from "../control-plane/api.ts";
import type { Execution, ExecutionStatus, Job } from "../control-plane/schemas.ts";
import { nsToMs } from "../control-plane/schemas.ts";
import { giveUpAfter, raceAbort } from "./abort-race.ts";
import {
  type AbortReason,
  type BaseJobContext,
  type HandlerFactory,
  isAbortReason,
  type JobContext,
  type JobHandler,
  type JobLog,
  type RunnerState,
} from "./handler.ts";
import { createStatusQueue } from "./status-queue.ts";

/** Default execution deadline when the job has no `execution_timeout` (Nuon's default, 5 minutes). */
export const DEFAULT_EXECUTION_TIMEOUT_MS = 5 * 60_000;

/** The steps, in order; `handler` names the lookup of the handler itself. */
export type StepName =
  | "handler"
  | "reset"
  | "fetch"
  | "validate"
  | "initialize"
  | "execute"
  | "outputs"
  | "cleanup";

/** The statuses a pipeline can end in. */
export type TerminalStatus = "finished" | "failed" | "timed-out" | "cancelled";

/** What happened to one execution. */
export interface JobOutcome {
  status: TerminalStatus;
  /** The step that failed, when one did. */
  step?: StepName;
  /** Why it did not finish, when it did not. */
  message?: string;
  /** The result to post. */
  result: ResultInput;
  /** Milliseconds from pipeline start to the outcome. */
  durationMs: number;
  /** Settles once every non-terminal status of the run was answered or given up (never rejects); the terminal
   * status must not be sent before. */
  statusesSent: Promise<void>;
  /** Calls the handler's afterFinished hook; the agent calls it once the terminal status is delivered. */
  afterDelivered(): void;
}

/** Everything one pipeline run needs. */
export interface RunJobInput {
  job: Job;
  execution: Execution;
  /** undefined when this runner has no handler for the job's type: the job fails naming the type. */
  handlerFactory: HandlerFactory | undefined;
  client: ControlPlaneApi;
  log: JobLog;
  runnerState: RunnerState;
  /** Milliseconds between SIGTERM and SIGKILL for processes the handler starts (handed to handlers). */
  killGraceMs: number;
  /** Aborts the job from outside (cancel watch, drain, shutdown); its reason should be an AbortReason. */
  signal?: AbortSignal;
  /** Deadline when the job has none; default DEFAULT_EXECUTION_TIMEOUT_MS. */
  defaultExecutionTimeoutMs?: number;
  /** After an abort, milliseconds to wait for the running step to settle before giving up on it; default killGraceMs + 5000. */
  abortSettleMs?: number;
  /** Milliseconds cleanup may take when the job failed or was aborted; default 60 000. */
  cleanupTimeoutMs?: number;
  workspaceDir?: string;
  /** Creates the job's workspace at the start of `reset` (its failure fails the job at reset); removed after
   * cleanup whatever happened. Not called for a handler with `needsWorkspace: false`. */
  workspace?: () => Promise<{ dir: string; cleanup(): Promise<void> }>;
  /** Awaited after the handler is found, while `initializing` is sent, before the workspace and the first step
   * (the agent: the claim is durable in the journal). Must not reject. */
  beforeFirstStep?: Promise<unknown>;
  /** Called after each status PATCH attempt (tests and metrics). */
  onStatus?: (status: ExecutionStatus) => void;
  /** Called as each step that runs starts and ends (`error`: what failed it, or the abort reason); telemetry
   * makes step spans from it. A throwing hook is ignored. */
  onStep?: (name: StepName, phase: "start" | "end", error?: unknown) => void;
  /** Clock in ms; default performance.now. */
  now?: () => number;
}

/** Turns any thrown value into a message; zod errors name the field path. */
export function describeError(err: unknown): string {
  if (err instanceof $ZodError) return `the plan is invalid: ${z.prettifyError(err).replaceAll("\n", "; ")}`;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

class StepFailed extends Error {
  override readonly name = "StepFailed";
  readonly step: StepName;
  constructor(step: StepName, cause: unknown) {
    super(describeError(cause), { cause });
    this.step = step;
  }
}

/** Parses the plan text: empty and `null` give null; anything else must be JSON. */
export function parsePlanText(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  try {
    return JSON.parse(trimmed);
  } catch (err) {
    throw new Error(`the plan is not valid JSON: ${describeError(err)}`, { cause: err });
  }
}

/** Runs one execution through the steps; never throws. */
export async function runJob(input: RunJobInput): Promise<JobOutcome> {
  const now = input.now ?? (() => performance.now());
  const startedAt = now();
  const { job, execution, client, log } = input;
  const jobType = job.type ?? "";
  const settleMs = input.abortSettleMs ?? input.killGraceMs + 5_000;
  const timeoutMs =
    job.execution_timeout !== undefined && job.execution_timeout > 0
      ? nsToMs(job.execution_timeout)
      : (input.defaultExecutionTimeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS);

  const controller = new AbortController();
  const signal = controller.signal;
  const forward = () => controller.abort(input.signal?.reason);
  if (input.signal?.aborted) forward();
  else input.signal?.addEventListener("abort", forward, { once: true });
  const deadline = setTimeout(() => {
    controller.abort({
      kind: "timed-out",
      message: `the execution exceeded its timeout of ${timeoutMs} ms`,
    } satisfies AbortReason);
  }, timeoutMs);

  let handler: JobHandler<unknown> | undefined;
  let workspace: { dir: string; cleanup(): Promise<void> } | undefined;
  const base: BaseJobContext = {
    job,
    execution,
    signal,
    log,
    client,
    result: {},
    outputs: {},
    killGraceMs: input.killGraceMs,
    runnerState: input.runnerState,
  };
  if (input.workspaceDir !== undefined) base.workspaceDir = input.workspaceDir;
  let ctx: JobContext<unknown> | undefined;

  let graceful: Promise<void> = Promise.resolve();
  signal.addEventListener(
    "abort",
    () => {
      const reason = abortReasonOf(signal);
      log.warn("job aborted", { kind: reason.kind, reason: reason.message });
      const hook = handler?.gracefulShutdown;
      if (hook === undefined || handler === undefined) return;
      graceful = hook
        .call(handler, ctx ?? base, reason)
        .catch((err: unknown) => log.warn("graceful shutdown failed", { error: describeError(err) }));
    },
    { once: true },
  );

  const statuses = createStatusQueue((status) => patch(status));

  /** PATCHes a non-terminal status; true once acknowledged, false when given up (logged). */
  async function patch(status: ExecutionStatus): Promise<boolean> {
    let delivered = true;
    try {
      await client.updateExecutionStatus(job.id, execution.id, status);
    } catch (err) {
      delivered = false;
      log.warn("could not update the execution status; the job goes on", {
        status,
        error: describeError(err),
      });
    }
    input.onStatus?.(status);
    return delivered;
  }

  function notifyStep(name: StepName, phase: "start" | "end", error?: unknown): void {
    try {
      input.onStep?.(name, phase, error);
    } catch {
      // telemetry must never change what happens to the job
    }
  }

  async function step(name: StepName, fn: (() => Promise<unknown>) | undefined): Promise<void> {
    if (signal.aborted) throw signal.reason;
    if (fn === undefined) return;
    log.debug("step started", { step: name });
    notifyStep(name, "start");
    try {
      await raceAbort(fn(), signal, settleMs);
    } catch (err) {
      notifyStep(name, "end", signal.aborted ? signal.reason : err);
      if (signal.aborted) throw signal.reason;
      throw new StepFailed(name, err);
    }
    notifyStep(name, "end", signal.aborted ? signal.reason : undefined);
    if (signal.aborted) throw signal.reason;
  }

  let status: TerminalStatus = "finished";
  let failedStep: StepName | undefined;
  let message: string | undefined;
  let reachedExecute = false;
  let current: StepName = "handler";

  try {
    current = "handler";
    if (input.handlerFactory === undefined) {
      throw new StepFailed("handler", new Error(`this runner has no handler for job type "${jobType}"`));
    }
    try {
      handler = await input.handlerFactory();
    } catch (err) {
      throw new StepFailed("handler", err);
    }
    const h = handler;
    statuses.report("initializing");
    // A GET with no side effect: it overlaps the status PATCH, and the fetch step awaits it.
    const planText = client.getPlanText(job.id, { signal });
    planText.catch(() => undefined); // a job that ends before fetch never reads it
    current = "reset";
    if (input.beforeFirstStep !== undefined) await raceAbort(input.beforeFirstStep, signal, settleMs);
    if (signal.aborted) throw signal.reason;
    const makeWorkspace = h.needsWorkspace === false ? undefined : input.workspace;
    if (makeWorkspace !== undefined) {
      await step("reset", async () => {
        try {
          workspace = await makeWorkspace();
        } catch (err) {
          throw new Error(`could not create the job workspace: ${describeError(err)}`, { cause: err });
        }
        base.workspaceDir = workspace.dir;
      });
    }
    await step("reset", h.reset === undefined ? undefined : () => h.reset!(base));
    current = "fetch";
    await step("fetch", async () => {
      const text = await planText;
      const plan = h.parsePlan(parsePlanText(text));
      ctx = { ...base, plan };
      if (h.fetch !== undefined) await h.fetch(ctx);
    });
    const c = ctx as unknown as JobContext<unknown>;
    current = "validate";
    await step("validate", h.validate === undefined ? undefined : () => h.validate!(c));
    current = "initialize";
    await step("initialize", h.initialize === undefined ? undefined : () => h.initialize!(c));
    statuses.report("in-progress");
    reachedExecute = true;
    current = "execute";
    await step("execute", () => h.execute(c));
    current = "outputs";
    await step("outputs", async () => {
      const extra = h.outputs === undefined ? {} : await h.outputs(c);
      const outputs = { ...c.outputs, ...extra };
      if (h.outputs !== undefined || Object.keys(outputs).length > 0) {
        await client.createOutputs(job.id, execution.id, outputs, { signal });
      }
    });
    reachedExecute = false; // cleanup below is the regular step
    statuses.report("cleaning-up");
    current = "cleanup";
    await step("cleanup", h.cleanup === undefined ? undefined : () => h.cleanup!(c));
  } catch (err) {
    if (isAbortReason(err) || signal.aborted) {
      const reason = isAbortReason(err) ? err : abortReasonOf(signal);
      status =
        reason.kind === "cancelled" ? "cancelled" : reason.kind === "timed-out" ? "timed-out" : "failed";
      failedStep = current;
      message = reason.message;
    } else {
      status = "failed";
      failedStep = err instanceof StepFailed ? err.step : current;
      message = describeError(err);
    }
    if (reachedExecute && handler?.cleanup !== undefined && ctx !== undefined) {
      await runCleanupAfterFailure(handler, ctx, input.cleanupTimeoutMs ?? 60_000, log);
    }
  } finally {
    clearTimeout(deadline);
    input.signal?.removeEventListener("abort", forward);
  }
  await giveUpAfter(graceful, signal, settleMs).catch(() => undefined);
  await workspace
    ?.cleanup()
    .catch((err: unknown) => log.warn("could not remove the job workspace", { error: describeError(err) }));

  const durationMs = Math.round(now() - startedAt);
  const handlerName = handler?.name ?? "";
  const result: ResultInput =
    status === "finished"
      ? { success: true, ...base.result }
      : {
          success: false,
          errorCode: 0,
          errorMetadata: { step: failedStep, handler: handlerName, job_type: jobType, message },
        };
  if (status === "finished") log.info("job finished", { durationMs });
  else log.error("job did not finish", { status, step: failedStep, reason: message, durationMs });
  const finalHandler = handler;
  const finalCtx: BaseJobContext = ctx ?? base;
  return {
    status,
    ...(failedStep !== undefined ? { step: failedStep } : {}),
    ...(message !== undefined ? { message } : {}),
    result,
    durationMs,
    statusesSent: statuses.drained(),
    afterDelivered() {
      try {
        finalHandler?.afterFinished?.(finalCtx, status);
      } catch (err) {
        log.warn("afterFinished hook failed", { error: describeError(err) });
      }
    },
  };
}

function abortReasonOf(signal: AbortSignal): AbortReason {
  const reason: unknown = signal.reason;
  if (isAbortReason(reason)) return reason;
  return { kind: "shutdown", message: reason instanceof Error ? reason.message : "the job was aborted" };
}

async function runCleanupAfterFailure(
  handler: JobHandler<unknown>,
  ctx: JobContext<unknown>,
  timeoutMs: number,
  log: JobLog,
): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await raceAbort(handler.cleanup!({ ...ctx, signal }), signal, 0);
  } catch (err) {
    log.warn("cleanup after a failure did not complete", { error: describeError(err) });
  }
}
