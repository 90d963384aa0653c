/**
 * One job loop per job group: reserve a slot → ask for work (long-poll or list) → claim → hand the job to
 * the agent, which runs it in that slot. Reserving first means the loop never claims a job it cannot start.
 *
 * - Claims are tried in `order` (oldest first by default); losing a claim (CLAIM_LOST) is normal: the next job
 *   of the answer is tried, and when all are lost the loop asks again at once. Free extra slots claim further
 *   jobs from the same answer without asking again.
 * - An empty answer from the list sleeps with jittered backoff from pollIntervalMs to pollMaxIntervalMs (an
 *   empty long-poll already waited and asks again at once); finding work resets the backoff.
 * - Errors (control plane down, 5xx, bad token) back off and try again: a loop never exits until its signal
 *   aborts (drain). The signal aborts a parked long-poll, but never a claim in flight: a job claimed in
 *   that instant is still handed over and runs.
 */
import type { Logger } from "pino";
import { createBackoff, sleep } from "../backoff.ts";
import { isUnrecoverable } from "../control-plane/errors.ts";
import type { Execution, Job } from "../control-plane/schemas.ts";
import { type JobOrder, orderJobs } from "./job-order.ts";
import type { JobSource } from "./job-source.ts";
import { errorFields } from "./log-fields.ts";
import type { Slot, WorkerPool } from "./worker-pool.ts";

/** A claimed job handed to the agent. The agent must release `slot` when the job's pipeline ends. */
export interface ClaimedJob {
  job: Job;
  execution: Execution;
  slot: Slot;
  /** performance.now() when the answer holding this job arrived. */
  receivedAtMs: number;
  /** performance.now() when the claim succeeded. */
  claimedAtMs: number;
}

/** Options of one job loop. */
export interface JobLoopOptions {
  group: string;
  pool: WorkerPool;
  source: JobSource;
  /** Default "oldest". */
  order: JobOrder;
  /** Claims the job (createExecution): the execution, or undefined when another runner won (CLAIM_LOST). */
  claim(job: Job): Promise<Execution | undefined>;
  /** Starts a claimed job; must not throw and must release the slot when the job ends. */
  start(claimed: ClaimedJob): void;
  /** True when this runner already runs that job id (a stale answer); such jobs are skipped. */
  isHeld?(jobId: string): boolean;
  /** First idle delay in ms (default 1000). */
  pollIntervalMs: number;
  /** Largest idle delay in ms (default 5000). */
  pollMaxIntervalMs: number;
  /** Largest delay after errors in ms; default max(pollMaxIntervalMs, 10 000). */
  errorMaxIntervalMs?: number;
  log: Logger;
  /** Clock in ms; default performance.now. */
  now?: () => number;
  random?: () => number;
}

/** What the loop reports about itself. */
export interface JobLoopHealth {
  group: string;
  /** Milliseconds since the loop last started or finished asking for work; 0 while all its slots run jobs. */
  sinceLastCheckMs: number;
  /** All slots run jobs: the loop waits for its own work, it is not stuck. */
  busy: boolean;
  /** How the loop asks: `tail` or `poll`. */
  mode: string;
  /** performance.now() of the first ask, or undefined before it. */
  firstPollAtMs: number | undefined;
  /** Jobs this loop claimed. */
  claimed: number;
  /** Claims lost to another runner. */
  claimsLost: number;
  /** Failed asks or claims. */
  errors: number;
}

/** A job loop: `run(signal)` resolves once the signal aborted and the loop let go of its slot. */
export interface JobLoop {
  readonly group: string;
  run(signal: AbortSignal): Promise<void>;
  health(): JobLoopHealth;
}

/** Creates a job loop. */
export function createJobLoop(options: JobLoopOptions): JobLoop {
  const now = options.now ?? (() => performance.now());
  const { group, pool, source, log } = options;
  const random = options.random ?? Math.random;
  const idle = createBackoff({ initialMs: options.pollIntervalMs, maxMs: options.pollMaxIntervalMs, random });
  const failures = createBackoff({
    initialMs: options.pollIntervalMs,
    maxMs: options.errorMaxIntervalMs ?? Math.max(options.pollMaxIntervalMs, 10_000),
    random,
  });
  let lastCheckAtMs = now();
  let asking = false;
  let firstPollAtMs: number | undefined;
  let claimed = 0;
  let claimsLost = 0;
  let errors = 0;

  async function ask(signal: AbortSignal): Promise<{ jobs: Job[]; waited: boolean } | undefined> {
    asking = true;
    lastCheckAtMs = now();
    firstPollAtMs ??= lastCheckAtMs;
    try {
      const answer = await source.next(signal);
      return { jobs: answer.jobs, waited: answer.mode === "tail" && now() - lastCheckAtMs >= 250 };
    } catch (err) {
      if (signal.aborted) return undefined;
      errors += 1;
      if (isUnrecoverable(err)) {
        log.error(
          { group, ...errorFields(err) },
          "the control plane refused the runner's token; retrying after a pause",
        );
      } else {
        log.warn(
          { group, ...errorFields(err) },
          "could not ask the control plane for jobs; retrying after a pause",
        );
      }
      await sleep(failures.next(), signal);
      return undefined;
    } finally {
      asking = false;
      lastCheckAtMs = now();
    }
  }

  async function run(signal: AbortSignal): Promise<void> {
    log.debug({ group, mode: source.mode, slots: pool.capacity }, "job loop started");
    while (!signal.aborted) {
      let slot: Slot | undefined;
      try {
        slot = await pool.reserve(signal);
      } catch {
        break;
      }
      const answer = await ask(signal);
      if (answer === undefined) {
        slot.release();
        continue;
      }
      failures.reset();
      const receivedAtMs = now();
      const jobs = orderJobs(
        answer.jobs.filter((job) => !(options.isHeld?.(job.id) ?? false)),
        options.order,
      );
      if (jobs.length === 0) {
        slot.release();
        if (!answer.waited) await sleep(idle.next(), signal);
        continue;
      }
      idle.reset();
      for (const job of jobs) {
        if (signal.aborted) break;
        slot ??= pool.tryReserve();
        if (slot === undefined) break;
        let execution: Execution | undefined;
        try {
          execution = await options.claim(job);
        } catch (err) {
          errors += 1;
          log.warn(
            { group, jobId: job.id, ...errorFields(err) },
            "could not claim a job; asking again after a pause",
          );
          slot.release();
          slot = undefined;
          await sleep(failures.next(), signal);
          break;
        }
        if (execution === undefined) {
          claimsLost += 1;
          log.debug({ group, jobId: job.id }, "another runner claimed the job first");
          continue;
        }
        claimed += 1;
        options.start({ job, execution, slot, receivedAtMs, claimedAtMs: now() });
        slot = undefined;
      }
      slot?.release();
    }
    log.debug({ group }, "job loop stopped");
  }

  return {
    group,
    run,
    health() {
      const busy = pool.inUse >= pool.capacity && !asking;
      return {
        group,
        // while asking this counts from the start of the ask, so an ask that hangs shows as a stuck loop
        sinceLastCheckMs: busy ? 0 : Math.max(0, now() - lastCheckAtMs),
        busy,
        mode: source.mode,
        firstPollAtMs,
        claimed,
        claimsLost,
        errors,
      };
    },
  };
}
