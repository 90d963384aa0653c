/**
 * Runs claimed jobs: journal the claim (durable before the first step), watch for a cancel, run the step
 * pipeline, record the outcome in the journal while the job log's last lines are flushed, deliver the outcome
 * (retrying until acknowledged; the terminal status after the flush), then free its slot and forget the job.
 * Journal writes are group-committed (journal.ts), so concurrent jobs share fsyncs. Tracks what runs, so the
 * agent can drain (wait), abort (drain timeout, second signal) and answer metrics.
 */
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import { raceAbort } from "../jobs/abort-race.ts";
import type { AbortReason, JobLog, RunnerState } from "../jobs/handler.ts";
import type { HandlerRegistry } from "../jobs/registry.ts";
import { runJob, type StepName } from "../jobs/run-job.ts";
import type { JobTracer } from "../telemetry/job-trace.ts";
import { createWorkspace } from "../workspace/workspace.ts";
import type { CancelWatch } from "./cancel-watch.ts";
import type { IdleGc } from "./idle-gc.ts";
import { pinoJobLog } from "./job-log.ts";
import type { ClaimedJob } from "./job-loop.ts";
import type { Journal } from "./journal.ts";
import type { AgentMetrics } from "./metrics.ts";
import { deliverOutcome } from "./report-outcome.ts";

/** Dependencies of the job runner. */
export interface JobRunnerDeps {
  client: ControlPlaneApi;
  log: Logger;
  journal: Journal;
  cancelWatch: CancelWatch;
  registry: HandlerRegistry;
  metrics: AgentMetrics;
  runnerState: RunnerState;
  /** Milliseconds between SIGTERM and SIGKILL for processes handlers start. */
  killGraceMs: number;
  /** Aborts outcome delivery retries when the runner stops for good. */
  stopSignal: AbortSignal;
  /**
   * Opens the job's durable log (spool → shipper → the job's log stream); a pino child logger when absent or
   * when it returns undefined. `stepName` tells which pipeline step is running.
   */
  openJobLog?: (
    job: ClaimedJob["job"],
    execution: ClaimedJob["execution"],
    stepName: () => string,
    echo: Logger,
  ) => (JobLog & { close(): Promise<void> }) | undefined;
  /** Where per-job workspaces (0700) are made; jobs get none when absent. */
  workspaceRoot?: string;
  /** Keep workspaces after the job (debugging); default false. */
  keepWorkspaces?: boolean;
  /** Job and step spans and metrics (OpenTelemetry), or a promise of them while they load; none when absent or
   * undefined. */
  telemetry?: () => JobTracer | undefined | Promise<JobTracer | undefined>;
  /** Told when the first job starts and when the last one ends (idle compaction). */
  idleGc?: Pick<IdleGc, "busy" | "idle">;
}

/** One job being run. */
export interface RunningJob {
  jobId: string;
  executionId: string;
  group: string;
  type: string;
  controller: AbortController;
}

/** Runs and tracks claimed jobs. */
export interface JobRunner {
  /** Starts a claimed job in the background. Never throws. */
  start(claimed: ClaimedJob, group: string): void;
  /** True while this runner holds the job id. */
  isHeld(jobId: string): boolean;
  /** Jobs running now (pipeline or delivery). */
  running(): RunningJob[];
  /** Running jobs by group. */
  runningByGroup(): Record<string, number>;
  /** Aborts every running job with `reason` (jobs already aborted keep their first reason). */
  abortAll(reason: AbortReason): void;
  /** Resolves when no job runs. */
  idle(): Promise<void>;
}

/** Creates a job runner. */
export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const running = new Map<string, RunningJob>();
  const tasks = new Set<Promise<void>>();
  let idleWaiters: Array<() => void> = [];

  async function runOne(claimed: ClaimedJob, group: string, entry: RunningJob): Promise<void> {
    const { job, execution } = claimed;
    const type = job.type ?? "";
    const log = deps.log.child({ jobId: job.id, executionId: execution.id, jobType: type, group });
    const createdMs = job.created_at === undefined ? Number.NaN : Date.parse(job.created_at);
    const queueWaitMs = Number.isNaN(createdMs) ? undefined : Math.max(0, Date.now() - createdMs);
    deps.metrics.recordPickup({
      jobId: job.id,
      group,
      receiveToClaimMs: claimed.claimedAtMs - claimed.receivedAtMs,
      createdToClaimMs: queueWaitMs,
    });
    // The entry is made durable while the job log opens, the `initializing` status is sent and the plan is
    // read; the workspace and the first step wait for it.
    const added = deps.journal
      .add({
        jobId: job.id,
        executionId: execution.id,
        jobType: type,
        startedAt: new Date().toISOString(),
        pid: process.pid,
      })
      .catch((err: unknown) =>
        log.error(
          { err },
          "could not write the journal; the job runs, but a crash now would not be reported",
        ),
      );
    const traced = (await deps.telemetry?.())?.startJob({
      jobId: job.id,
      executionId: execution.id,
      type,
      group,
      operation: job.operation,
      metadata: job.metadata,
      pickupLatencyMs: claimed.claimedAtMs - claimed.receivedAtMs,
      queueWaitMs,
    });
    log.info("job claimed");
    const unwatch = deps.cancelWatch.watch(job.id, execution.id, (reason) => entry.controller.abort(reason));
    let stepName = "";
    let durable: (JobLog & { close(): Promise<void> }) | undefined;
    try {
      durable = deps.openJobLog?.(job, execution, () => stepName, log);
    } catch (err) {
      log.error({ err }, "could not open the durable job log; the job logs to the runner's log only");
    }
    const onStep = (name: StepName, phase: "start" | "end", error?: unknown) => {
      if (phase === "start") stepName = name;
      traced?.onStep(name, phase, error);
    };
    const workspaceRoot = deps.workspaceRoot;
    const outcome = await runJob({
      job,
      execution,
      handlerFactory: deps.registry.find(job.type),
      client: deps.client,
      log: durable ?? pinoJobLog(log),
      runnerState: deps.runnerState,
      killGraceMs: deps.killGraceMs,
      signal: entry.controller.signal,
      onStep,
      // No step (nor the workspace) before the claim is durable; the plan's GET and `initializing` overlap it.
      beforeFirstStep: added,
      ...(workspaceRoot !== undefined
        ? {
            workspace: () =>
              createWorkspace({
                root: workspaceRoot,
                jobId: job.id,
                executionId: execution.id,
                keep: deps.keepWorkspaces ?? false,
              }),
          }
        : {}),
    });
    unwatch();
    const pending = { status: outcome.status, result: outcome.result };
    const { errorCode, errorMetadata } = pending.result;
    // The outcome is made durable before the result is posted (a restart then delivers the real outcome, never
    // `restart`). The job log is sealed now (its last lines are on disk) and its final flush runs alongside the
    // journal write and the result; the terminal status waits for the flush (bounded by the job log's flush
    // timeout), so the control plane normally has every line once the job is terminal.
    const recorded = deps.journal
      .setOutcome(execution.id, {
        status: pending.status,
        result:
          errorCode === undefined && errorMetadata === undefined
            ? { success: pending.result.success }
            : {
                success: pending.result.success,
                ...(errorCode !== undefined ? { errorCode } : {}),
                ...(errorMetadata !== undefined ? { errorMetadata } : {}),
              },
      })
      .catch((err: unknown) => log.warn({ err }, "could not record the outcome in the journal"));
    const logClosed =
      durable?.close().catch((err: unknown) => log.warn({ err }, "could not close the job log")) ??
      Promise.resolve();
    traced?.end({
      status: outcome.status,
      message: outcome.message,
      step: outcome.step,
      durationMs: outcome.durationMs,
    });
    await recorded;
    const client = deps.client;
    const delivery = await deliverOutcome(job.id, execution.id, pending, {
      client: {
        createResult: (jobId, executionId, result, options) =>
          client.createResult(jobId, executionId, result, options),
        updateExecutionStatus: async (jobId, executionId, status, options) => {
          // the last non-terminal status is answered and the job log flushed before the terminal status (a
          // runner that stops for good stops waiting: the journal keeps the outcome for the next start)
          const ready = Promise.all([logClosed, outcome.statusesSent]);
          await (options?.signal === undefined ? ready : raceAbort(ready, options.signal, 0));
          return client.updateExecutionStatus(jobId, executionId, status, options);
        },
      },
      log,
      signal: deps.stopSignal,
    });
    deps.metrics.recordJob(type, outcome.status);
    // The spool keeps what the flush did not deliver (shipping goes on, and the next start resumes it), so the
    // journal may forget the job once the flush ended either way.
    await logClosed;
    if (delivery === "delivered") {
      // The slot is free once the control plane has the outcome; forgetting the entry rides on the next
      // journal write (a crash before it only re-delivers an outcome the control plane already has).
      claimed.slot.release();
      await deps.journal
        .remove(execution.id)
        .catch((err: unknown) => log.warn({ err }, "could not update the journal"));
      outcome.afterDelivered();
    } else {
      log.warn(
        "the runner stopped before the outcome was delivered; the next start delivers it from the journal",
      );
    }
  }

  return {
    start(claimed, group) {
      const entry: RunningJob = {
        jobId: claimed.job.id,
        executionId: claimed.execution.id,
        group,
        type: claimed.job.type ?? "",
        controller: new AbortController(),
      };
      running.set(entry.executionId, entry);
      deps.idleGc?.busy();
      const task = runOne(claimed, group, entry)
        .catch((err: unknown) =>
          deps.log.error({ err, jobId: entry.jobId }, "job runner failed unexpectedly"),
        )
        .finally(() => {
          running.delete(entry.executionId);
          tasks.delete(task);
          claimed.slot.release();
          if (running.size === 0) {
            deps.idleGc?.idle();
            const toWake = idleWaiters;
            idleWaiters = [];
            for (const wake of toWake) wake();
          }
        });
      tasks.add(task);
    },
    isHeld(jobId) {
      for (const job of running.values()) if (job.jobId === jobId) return true;
      return false;
    },
    running: () => [...running.values()],
    runningByGroup() {
      const out: Record<string, number> = {};
      for (const job of running.values()) out[job.group] = (out[job.group] ?? 0) + 1;
      return out;
    },
    abortAll(reason) {
      for (const job of running.values()) if (!job.controller.signal.aborted) job.controller.abort(reason);
    },
    idle() {
      if (running.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
