/**
 * Running a run's jobs on a control plane, in `depends_on` order: a job is enqueued once every job it
 * depends on finished; a job whose dependency failed (or was skipped or cancelled) is `skipped`. The observer
 * watches each job until the control plane says it ended, then its result, snapshot and `job:finished` are
 * emitted. The first failure with fail-fast, the run's deadline, or the caller's signal (SIGINT) stops the
 * run: running jobs are cancelled through the admin API and jobs not started yet end `cancelled`.
 */
import type { Logger } from "pino";
import type { EventBus } from "../events/bus.ts";
import type { JobOutcome, RunStatus } from "../events/events.ts";

export type { JobResult } from "./job-result.ts";

import type { Redactor } from "../logs/redact.ts";
import type { JobDetail } from "../mock-control-plane/server.ts";
import { takeSnapshot } from "../records/snapshots.ts";
import type { DevControlPlane } from "./control-plane-port.ts";
import { type NodeState, nextSteps } from "./dag.ts";
import type { JobSpec } from "./job-file.ts";
import { type JobResult, jobResultOf } from "./job-result.ts";
import { type JobObservation, observeJob } from "./observer.ts";
import { type PreparedJob, prepareJob } from "./plan-input.ts";

/** Default time cancelled jobs get to reach a terminal status before they are given up on: 15 s. */
export const DEFAULT_CANCEL_GRACE_MS = 15_000;

/** Exit code of an interrupted run (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Terraform state access for snapshots (and keeping state between runs with the embedded control plane). */
export interface TerraformStateAccess {
  fetch(workspaceId: string): Promise<string | undefined>;
  /** Restores kept state before the job; false when none was kept. */
  seed?(workspaceId: string): Promise<boolean>;
  /** Keeps the state after the job. */
  keep?(workspaceId: string, text: string): Promise<void>;
}

/** What the executor works with. */
export interface ExecutorDeps {
  cp: DevControlPlane;
  bus: EventBus;
  runnerId: string;
  /** Outputs and errors pass through it before any event carries them. */
  redactor: Redactor;
  log: Logger;
  terraform?: TerraformStateAccess;
  /** Clock in epoch ms; default Date.now. */
  nowMs?: () => number;
}

/** What to run. */
export interface ExecuteOptions {
  runId: string;
  jobs: readonly JobSpec[];
  failFast: boolean;
  /** The whole run's deadline, in ms. */
  timeoutMs: number;
  /** Aborting it interrupts the run (SIGINT). */
  signal?: AbortSignal;
  /** Default DEFAULT_CANCEL_GRACE_MS. */
  cancelGraceMs?: number;
}

/** How the run ended. */
export interface RunResult {
  status: RunStatus;
  /** 0 success, 1 failure or timeout, 130 interrupted. */
  exitCode: number;
  reason?: string;
  jobs: JobResult[];
  durationMs: number;
}

interface Running {
  spec: JobSpec;
  enqueuedMs: number;
  jobId?: string;
  observation?: JobObservation;
  graceTimer?: NodeJS.Timeout;
  settle?: (result: JobResult) => void;
}

/** Runs the jobs; resolves once every job ended. Never rejects for a job's failure. */
export function executeRun(opts: ExecuteOptions, deps: ExecutorDeps): Promise<RunResult> {
  const now = deps.nowMs ?? Date.now;
  const startedMs = now();
  const states = new Map<string, NodeState>(opts.jobs.map((j) => [j.name, "waiting"]));
  const results = new Map<string, JobResult>();
  const running = new Map<string, Running>();
  const specs = new Map(opts.jobs.map((j) => [j.name, j]));
  let stopping: { status: RunStatus; reason: string } | undefined;
  let done = false;

  return new Promise<RunResult>((resolve) => {
    const deadline = setTimeout(
      () => stop("timed-out", `the run's timeout of ${Math.round(opts.timeoutMs / 1000)}s passed`),
      opts.timeoutMs,
    );
    const onAbort = () => stop("interrupted", describeAbort(opts.signal?.reason));
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    function end(name: string, result: JobResult): void {
      if (results.has(name)) return;
      results.set(name, result);
      states.set(name, stateOf(result.status));
      deps.bus.emit("job:finished", {
        job: name,
        ...(result.jobId !== undefined ? { jobId: result.jobId } : {}),
        type: result.type,
        status: result.status,
        durationMs: result.durationMs,
        ...(result.outputs !== undefined ? { outputs: result.outputs } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
        ...(result.failedStep !== undefined ? { failedStep: result.failedStep } : {}),
      });
      if (result.status !== "finished" && result.status !== "skipped" && opts.failFast && !stopping) {
        stop("failure", `fail-fast: job "${name}" ${result.status}; the other jobs are cancelled`);
      }
    }

    function pump(): void {
      if (done) return;
      for (;;) {
        const next = nextSteps(opts.jobs, states);
        for (const { name, because } of next.skip) {
          const spec = specs.get(name)!;
          end(name, {
            name,
            type: spec.type,
            status: "skipped",
            durationMs: 0,
            error: `not run: the job it depends on, "${because}", did not finish`,
          });
        }
        if (stopping) break;
        for (const name of next.start) start(specs.get(name)!);
        if (next.skip.length === 0) break;
      }
      if (stopping) {
        for (const [name, state] of states) {
          if (state !== "waiting") continue;
          const spec = specs.get(name)!;
          end(name, {
            name,
            type: spec.type,
            status: "cancelled",
            durationMs: 0,
            error: `not started: ${stopping.reason}`,
          });
        }
      }
      if (running.size === 0) {
        done = true;
        clearTimeout(deadline);
        opts.signal?.removeEventListener("abort", onAbort);
        resolve(finish());
      }
    }

    function finish(): RunResult {
      const jobs = opts.jobs.map((j) => results.get(j.name)!);
      const allFinished = jobs.every((j) => j.status === "finished");
      const status: RunStatus =
        stopping?.status === "timed-out" || stopping?.status === "interrupted"
          ? stopping.status
          : allFinished
            ? "success"
            : "failure";
      const failed = jobs.filter((j) => j.status !== "finished").map((j) => `${j.name} ${j.status}`);
      const reason = stopping?.reason ?? (failed.length > 0 ? failed.join(", ") : undefined);
      return {
        status,
        exitCode: status === "success" ? 0 : status === "interrupted" ? EXIT_INTERRUPTED : 1,
        ...(reason !== undefined ? { reason } : {}),
        jobs,
        durationMs: Math.max(0, now() - startedMs),
      };
    }

    function start(spec: JobSpec): void {
      states.set(spec.name, "running");
      const entry: Running = { spec, enqueuedMs: now() };
      running.set(spec.name, entry);
      runOne(entry)
        .catch((err: unknown) => failure(entry, `could not run the job: ${messageOf(err)}`))
        .then((result) => {
          clearTimeout(entry.graceTimer);
          running.delete(spec.name);
          end(spec.name, result);
          pump();
        });
    }

    function failure(entry: Running, message: string): JobResult {
      return {
        name: entry.spec.name,
        type: entry.spec.type,
        status: "failed",
        ...(entry.jobId !== undefined ? { jobId: entry.jobId } : {}),
        durationMs: Math.max(0, now() - entry.enqueuedMs),
        error: deps.redactor.redact(message).text,
      };
    }

    async function runOne(entry: Running): Promise<JobResult> {
      const { spec } = entry;
      const prepared = prepareJob(spec, { runId: opts.runId, defaultAvailableMs: opts.timeoutMs });
      deps.redactor.addFromObject(prepared.input.plan);
      if (prepared.workspaceId !== undefined && deps.terraform?.seed !== undefined) {
        try {
          const seeded = await deps.terraform.seed(prepared.workspaceId);
          if (seeded)
            deps.log.info(
              { job: spec.name, workspaceId: prepared.workspaceId },
              "restored the terraform state kept from an earlier run",
            );
        } catch (err) {
          return failure(
            entry,
            `could not restore the terraform state kept from an earlier run: ${messageOf(err)}`,
          );
        }
      }
      if (stopping) return cancelledBeforeStart(entry);
      const job = await deps.cp.enqueueJob(deps.runnerId, prepared.input);
      entry.jobId = job.id;
      deps.bus.emit("job:enqueued", { job: spec.name, jobId: job.id, type: spec.type });
      const finished = new Promise<JobResult>((r) => {
        entry.settle = r;
      });
      entry.observation = observeJob({
        cp: deps.cp,
        bus: deps.bus,
        jobId: job.id,
        name: spec.name,
        stepNames: prepared.stepNames,
        nowMs: now,
      });
      if (stopping) cancel(entry);
      const detail = await Promise.race([entry.observation.done, finished]);
      if (!("executions" in detail)) return detail;
      return await complete(entry, prepared, detail);
    }

    function cancelledBeforeStart(entry: Running): JobResult {
      return {
        name: entry.spec.name,
        type: entry.spec.type,
        status: "cancelled",
        durationMs: 0,
        error: `not started: ${stopping?.reason ?? "the run stopped"}`,
      };
    }

    async function complete(entry: Running, prepared: PreparedJob, detail: JobDetail): Promise<JobResult> {
      const { spec } = entry;
      const result = jobResultOf(detail, {
        name: spec.name,
        type: spec.type,
        stepNames: prepared.stepNames,
        redactor: deps.redactor,
        fallbackDurationMs: Math.max(0, now() - entry.enqueuedMs),
      });
      let terraformState: string | undefined;
      if (prepared.workspaceId !== undefined && deps.terraform !== undefined) {
        try {
          terraformState = await deps.terraform.fetch(prepared.workspaceId);
          if (terraformState !== undefined) await deps.terraform.keep?.(prepared.workspaceId, terraformState);
        } catch (err) {
          deps.log.warn(
            { job: spec.name, error: messageOf(err) },
            "could not read the terraform state for the snapshot",
          );
        }
      }
      const snapshot = takeSnapshot({
        job: spec.name,
        type: spec.type,
        status: result.status,
        ...(result.outputs !== undefined ? { outputs: result.outputs } : {}),
        ...(terraformState !== undefined ? { terraformState } : {}),
        redactor: deps.redactor,
      });
      deps.bus.emit("job:snapshot", { job: spec.name, snapshot });
      return result;
    }

    function cancel(entry: Running): void {
      if (entry.jobId === undefined || entry.graceTimer !== undefined) return;
      const jobId = entry.jobId;
      deps.cp
        .cancelJob(jobId)
        .catch((err: unknown) =>
          deps.log.warn({ job: entry.spec.name, error: messageOf(err) }, "could not cancel the job"),
        );
      entry.graceTimer = setTimeout(() => {
        entry.observation?.stop();
        entry.settle?.({
          name: entry.spec.name,
          type: entry.spec.type,
          status: "cancelled",
          jobId,
          durationMs: Math.max(0, now() - entry.enqueuedMs),
          error: "cancelled, but the control plane did not confirm it in time",
        });
      }, opts.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS);
    }

    function stop(status: RunStatus, reason: string): void {
      if (stopping || done) return;
      stopping = { status, reason };
      deps.log.warn({ status, reason }, "stopping the run");
      for (const entry of running.values()) cancel(entry);
      pump();
    }

    if (opts.signal?.aborted) onAbort();
    pump();
  });
}

function stateOf(outcome: JobOutcome): NodeState {
  if (outcome === "finished") return "finished";
  if (outcome === "skipped") return "skipped";
  if (outcome === "cancelled") return "cancelled";
  return "failed";
}

function describeAbort(reason: unknown): string {
  if (typeof reason === "string") return reason;
  if (reason instanceof Error) return reason.message;
  return "the run was interrupted";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
