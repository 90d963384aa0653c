/**
 * The drain sequence, in order (docs/agent.md maps it onto systemd and Kubernetes):
 * 1. `draining`: the loops stop asking (a parked long-poll is aborted; a claim in flight still runs its job);
 * 2. running jobs finish, for up to drainTimeoutMs (0 when forced; cut short by a second signal);
 * 3. jobs still running are aborted with reason `drain` (processes get SIGTERM → killGraceMs → SIGKILL);
 * 4. their outcomes are delivered, for up to killGraceMs + flushTimeoutMs; what is still undelivered then
 *    stays in the journal for the next start;
 * 5. heartbeats stop (they ran through the whole drain), the process is marked stopped, all is closed.
 */
import type { Logger } from "pino";
import type { AgentExit } from "./agent-types.ts";
import type { JobRunner } from "./job-runner.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** How long loops get to return once told to stop (a claim in flight may still be answered), in ms. */
export const LOOP_STOP_TIMEOUT_MS = 15_000;

/** What the drain sequence works on (the agent's parts). */
export interface DrainPlan {
  log: Logger;
  lifecycle: Lifecycle;
  /** Aborting it stops the loops and the startup. */
  takeWork: AbortController;
  /** Aborted by a second signal or a forced drain: stop waiting for jobs. */
  urgent: AbortController;
  /** Aborting it abandons outcome deliveries still retrying. */
  stopController: AbortController;
  jobRunner: JobRunner;
  drainTimeoutMs: number;
  killGraceMs: number;
  flushTimeoutMs: number;
  waitForStartup(): Promise<void>;
  waitForLoops(): Promise<void>;
  waitForRecovery(): Promise<void>;
  /** Stops heartbeats and the cancel watch, marks the process stopped, closes the journal and admin server. */
  closeAll(reason: string): Promise<void>;
}

/** Resolves true when `work` settled within `ms`, false when the time ran out or `signal` aborted first. */
export function settlesWithin(work: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const finish = (value: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(value);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      () => finish(true),
      () => finish(true),
    );
  });
}

/** Runs the drain sequence; resolves with exit code 0 once the agent is stopped. */
export async function runDrain(plan: DrainPlan, reason: string): Promise<AgentExit> {
  const { log, lifecycle, jobRunner } = plan;
  if (lifecycle.state === "starting" || lifecycle.state === "running") {
    lifecycle.transition("draining", reason);
  }
  plan.takeWork.abort(new Error(`draining: ${reason}`));
  await plan.waitForStartup();
  if (!(await settlesWithin(plan.waitForLoops(), LOOP_STOP_TIMEOUT_MS))) {
    log.error({ timeoutMs: LOOP_STOP_TIMEOUT_MS }, "job loops did not stop in time; draining without them");
  }

  const waiting = jobRunner.running().length;
  if (waiting > 0) {
    log.info({ jobs: waiting, drainTimeoutMs: plan.drainTimeoutMs }, "waiting for running jobs to finish");
  }
  const finished = await settlesWithin(jobRunner.idle(), plan.drainTimeoutMs, plan.urgent.signal);
  if (!finished) {
    const left = jobRunner.running();
    if (left.length > 0) {
      log.warn({ jobs: left.map((j) => j.jobId) }, "aborting the jobs still running");
      jobRunner.abortAll({
        kind: "drain",
        message: plan.urgent.signal.aborted
          ? `the runner drained without waiting for running jobs (${reason})`
          : `the runner's drain timeout of ${plan.drainTimeoutMs} ms ran out (${reason})`,
      });
    }
  }
  const flushMs = plan.killGraceMs + plan.flushTimeoutMs;
  if (!(await settlesWithin(jobRunner.idle(), flushMs))) {
    log.error("outcomes could not be delivered in time; the journal keeps them for the next start");
    plan.stopController.abort(new Error("the runner stopped"));
    await settlesWithin(jobRunner.idle(), 5_000);
  }
  if (!(await settlesWithin(plan.waitForRecovery(), plan.flushTimeoutMs))) {
    log.error("executions left by a previous process could not be reported in time; the journal keeps them");
  }
  plan.stopController.abort(new Error("the runner stopped"));
  await plan.closeAll(reason);
  lifecycle.transition("stopped", reason);
  return { exitCode: 0, reason };
}
