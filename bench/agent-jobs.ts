/**
 * Job scenarios measured at the control plane: pickup latency (enqueue → the claim stored, one job at a time
 * at idle), the full protocol of a noop job (requests per job by operation, wall time enqueue → terminal),
 * and noop throughput (N jobs enqueued at once, time until all are terminal). Times are taken from the
 * control plane's `job:changed` events, which fire in the microtask after the store changed, before the reply
 * (the lean sibling of `job:updated`: the harness needs a job's status and execution count, not its detail).
 */
import { TERMINAL_JOB_STATUSES } from "../src/control-plane/schemas.ts";
import type { EmbeddedControlPlane, JobChange } from "../src/mock-control-plane/server.ts";
import { cpuMs, delay } from "./runner.ts";
import { median, percentile } from "./stats.ts";

/** Ten minutes in ns: jobs queued for a throughput run must not time out while they wait their turn. */
const LONG_AVAILABLE_NS = 600e9;

interface Tracked {
  enqueuedAtMs: number;
  claimedAtMs?: number;
  doneAtMs?: number;
  status?: string;
  done: () => void;
}

/** Follows jobs through `job:changed`: when the claim (first execution) was stored and when the job ended. */
export function trackJobs(cp: EmbeddedControlPlane) {
  const tracked = new Map<string, Tracked>();
  const onUpdate = (job: JobChange) => {
    const t = tracked.get(job.id);
    if (t === undefined) return;
    const now = performance.now();
    if (t.claimedAtMs === undefined && job.executionCount > 0) t.claimedAtMs = now;
    if (t.doneAtMs === undefined && job.status !== undefined && TERMINAL_JOB_STATUSES.has(job.status)) {
      t.doneAtMs = now;
      t.status = job.status;
      t.done();
    }
  };
  cp.events.on("job:changed", onUpdate);
  return {
    /** Enqueues a noop job and resolves once it is terminal (its timings recorded). */
    enqueue(runnerId: string): { id: string; done: Promise<Tracked> } {
      let done!: () => void;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const t: Tracked = { enqueuedAtMs: performance.now(), done };
      const job = cp.admin.enqueueJob(runnerId, { type: "noop", available_timeout: LONG_AVAILABLE_NS });
      tracked.set(job.id, t);
      return { id: job.id, done: finished.then(() => t) };
    },
    dispose() {
      cp.events.off("job:changed", onUpdate);
    },
  };
}

/** Operations not caused by a job: heartbeats and the admin API's own calls. */
function isJobTraffic(operationId: string): boolean {
  return operationId !== "CreateRunnerHeartBeat" && !operationId.startsWith("Admin");
}

function requestDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d > 0 && isJobTraffic(op)) delta[op] = d;
  }
  return delta;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What the sequential noop run measured. */
export interface SequentialResult {
  samples: number;
  pickupP50Ms: number;
  pickupP99Ms: number;
  /** Enqueue → job terminal, per job, median. */
  wallP50Ms: number;
  /** Requests per job by operationId (heartbeats excluded). */
  requestsPerJob: Record<string, number>;
  /** Sum of requestsPerJob. */
  requestsPerJobTotal: number;
  failed: number;
}

/** Enqueues `samples` noop jobs one at a time at idle, with random 5–25 ms gaps between a job's end and the next. */
export async function sequentialNoops(
  cp: EmbeddedControlPlane,
  runnerId: string,
  samples = 200,
): Promise<SequentialResult> {
  const tracker = trackJobs(cp);
  const pickups: number[] = [];
  const walls: number[] = [];
  let failed = 0;
  const before = cp.stats().requests;
  try {
    for (let i = 0; i < samples; i++) {
      await delay(5 + Math.random() * 20);
      const t = await withTimeout(tracker.enqueue(runnerId).done, 10_000, "a noop job");
      pickups.push((t.claimedAtMs ?? Number.NaN) - t.enqueuedAtMs);
      walls.push((t.doneAtMs ?? Number.NaN) - t.enqueuedAtMs);
      if (t.status !== "finished") failed++;
    }
  } finally {
    tracker.dispose();
  }
  // Let the last job's trailing requests (if any) land before counting.
  await delay(100);
  const delta = requestDelta(before, cp.stats().requests);
  const requestsPerJob = Object.fromEntries(
    Object.entries(delta).map(([op, n]) => [op, n / samples] as const),
  );
  return {
    samples,
    pickupP50Ms: median(pickups),
    pickupP99Ms: percentile(pickups, 99),
    wallP50Ms: median(walls),
    requestsPerJob,
    requestsPerJobTotal: Object.values(requestsPerJob).reduce((a, b) => a + b, 0),
    failed,
  };
}

/** What a throughput run measured. */
export interface ThroughputResult {
  /** Jobs enqueued. */
  jobs: number;
  /** Jobs that reached a terminal status in time. */
  completed: number;
  seconds: number;
  /** Completed jobs per second. */
  jobsPerSecond: number;
  /** Completed jobs whose status is not `finished`. */
  failed: number;
  /** True when not every job ended within the time limit. */
  timedOut: boolean;
  /** CPU time (user + system) the runner process used per job, in ms. */
  runnerCpuMsPerJob: number;
  /** CPU time this process (the control plane and the harness) used per job, in ms. */
  controlPlaneCpuMsPerJob: number;
}

/** Enqueues `count` noop jobs at once and times until all are terminal (at most `timeoutMs`, default 60 000). */
export async function noopThroughput(
  cp: EmbeddedControlPlane,
  runner: { runnerId: string; pid: number },
  count: number,
  timeoutMs = 60_000,
): Promise<ThroughputResult> {
  const tracker = trackJobs(cp);
  const results: Tracked[] = [];
  try {
    const cpu0 = process.cpuUsage();
    const runnerCpu0 = cpuMs(runner.pid);
    const t0 = performance.now();
    const all = Array.from({ length: count }, () =>
      tracker.enqueue(runner.runnerId).done.then((t) => results.push(t)),
    );
    const timedOut = await withTimeout(Promise.all(all), timeoutMs, `${count} noop jobs`).then(
      () => false,
      () => true,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const completed = results.length;
    return {
      jobs: count,
      completed,
      seconds,
      jobsPerSecond: completed / seconds,
      failed: results.filter((t) => t.status !== "finished").length,
      timedOut,
      runnerCpuMsPerJob: (cpuMs(runner.pid) - runnerCpu0) / Math.max(1, completed),
      controlPlaneCpuMsPerJob: (cpu.user + cpu.system) / 1000 / Math.max(1, completed),
    };
  } finally {
    tracker.dispose();
  }
}
