/**
 * Watching one job on the control plane and turning what changed into run events: the job's status, its
 * execution's status PATCHes as pipeline phases (`initializing`, `in-progress`, `cleaning-up`), action
 * workflow step PUTs as action steps, and new records of the job's log stream. `observeChanges` is pure
 * (it only updates the state it is given), so it is table-tested; `observeJob` wires it to a control plane.
 */
import {
  type ExecutionStatus,
  type JobStatus,
  nsToMs,
  TERMINAL_EXECUTION_STATUSES,
  TERMINAL_JOB_STATUSES,
} from "../control-plane/schemas.ts";
import type { EventBus } from "../events/bus.ts";
import type { RunEvents } from "../events/events.ts";
import type { JobDetail } from "../mock-control-plane/server.ts";
import type { DevControlPlane } from "./control-plane-port.ts";

/** Execution statuses that are pipeline phases. */
export const PHASES: ReadonlySet<ExecutionStatus> = new Set(["initializing", "in-progress", "cleaning-up"]);

/** What the observer remembers about one job between two looks. */
export interface ObservedState {
  jobStatus?: JobStatus;
  executionId?: string;
  executionStatus?: ExecutionStatus;
  /** The phase running now and since when (epoch ms). */
  phase?: { name: ExecutionStatus; sinceMs: number };
  /** Action step PUTs already seen on the current execution. */
  stepUpdates: number;
  /** Log records already seen. */
  logRecords: number;
}

/** An event the observer wants emitted. */
export type Observation =
  | { type: "job:status"; data: RunEvents["job:status"] }
  | { type: "step:status"; data: RunEvents["step:status"] }
  | { type: "job:log"; data: RunEvents["job:log"] };

/** Names for the observations of one job. */
export interface ObserveContext {
  /** The job's name in the job file. */
  name: string;
  /** Action step id → name. */
  stepNames: ReadonlyMap<string, string>;
  /** Clock in epoch ms, used when the control plane gives no time. */
  nowMs: () => number;
}

/** A fresh state. */
export function newObservedState(): ObservedState {
  return { stepUpdates: 0, logRecords: 0 };
}

/** Compares `job` with what `state` remembers, updates `state`, and returns the events to emit, in order. */
export function observeChanges(state: ObservedState, job: JobDetail, ctx: ObserveContext): Observation[] {
  const out: Observation[] = [];
  const base = { job: ctx.name, jobId: job.id };
  const execution = job.executions.at(-1);
  if (execution !== undefined && execution.id !== state.executionId) {
    state.executionId = execution.id;
    state.executionStatus = undefined;
    state.phase = undefined;
    state.stepUpdates = 0;
  }
  const execStatus = execution?.status;
  const execChanged = execStatus !== undefined && execStatus !== state.executionStatus;
  if (job.status !== undefined && (job.status !== state.jobStatus || execChanged)) {
    state.jobStatus = job.status;
    out.push({
      type: "job:status",
      data: {
        ...base,
        status: job.status,
        ...(execution !== undefined ? { executionId: execution.id } : {}),
        ...(execStatus !== undefined ? { executionStatus: execStatus } : {}),
      },
    });
  }
  const steps: Observation[] = [];
  if (execution !== undefined && execChanged) {
    const atMs = parseTime(execution.updated_at) ?? ctx.nowMs();
    const at = new Date(atMs).toISOString();
    const ended = state.phase;
    if (ended !== undefined) {
      const terminal = TERMINAL_EXECUTION_STATUSES.has(execStatus);
      steps.push({
        type: "step:status",
        data: {
          ...base,
          step: ended.name,
          kind: "phase",
          status: terminal ? execStatus : "finished",
          at,
          durationMs: Math.max(0, atMs - ended.sinceMs),
        },
      });
      state.phase = undefined;
    }
    if (PHASES.has(execStatus)) {
      state.phase = { name: execStatus, sinceMs: atMs };
      steps.push({
        type: "step:status",
        data: { ...base, step: execStatus, kind: "phase", status: "in-progress", at },
      });
    }
    state.executionStatus = execStatus;
  }
  const updates = execution?.steps ?? [];
  for (const update of updates.slice(state.stepUpdates)) {
    const durationMs = update.execution_duration ? Math.round(nsToMs(update.execution_duration)) : undefined;
    steps.push({
      type: "step:status",
      data: {
        ...base,
        step: ctx.stepNames.get(update.step_id) ?? update.step_id,
        kind: "action",
        status: update.status,
        at: update.updated_at,
        ...(update.status !== "in-progress" && durationMs !== undefined ? { durationMs } : {}),
      },
    });
  }
  state.stepUpdates = Math.max(state.stepUpdates, updates.length);
  // Several changes seen at once (a poll): in the order they happened, phases before steps at the same time.
  out.push(
    ...steps
      .map((o, i) => ({ o, i }))
      .sort((a, b) => timeOf(a.o) - timeOf(b.o) || a.i - b.i)
      .map((x) => x.o),
  );
  for (const record of job.logs.slice(state.logRecords)) {
    const stream = record.attributes.stream;
    out.push({
      type: "job:log",
      data: {
        ...base,
        level: (record.severityText ?? "info").toLowerCase(),
        line: typeof record.body === "string" ? record.body : JSON.stringify(record.body ?? ""),
        ...(stream === "stdout" || stream === "stderr" ? { stream } : {}),
        source: "control-plane",
      },
    });
  }
  state.logRecords = Math.max(state.logRecords, job.logs.length);
  return out;
}

function timeOf(o: Observation): number {
  return o.type === "step:status" ? (parseTime(o.data.at) ?? 0) : 0;
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Whether the job reached a status after which nothing more happens to it. */
export function isTerminalJob(job: Pick<JobDetail, "status">): boolean {
  return job.status !== undefined && TERMINAL_JOB_STATUSES.has(job.status);
}

/** What observeJob needs. */
export interface ObserveJobInput extends ObserveContext {
  cp: DevControlPlane;
  bus: EventBus;
  jobId: string;
}

/** A job being watched. */
export interface JobObservation {
  /** Resolves with the job once it is terminal. */
  done: Promise<JobDetail>;
  /** Stops watching (done never resolves afterwards). */
  stop(): void;
}

/**
 * Watches a job, emitting its events on the bus, until it is terminal. The job is read once at the start
 * too, so a change that happened before the watch began is not missed.
 */
export function observeJob(input: ObserveJobInput): JobObservation {
  const state = newObservedState();
  let resolve!: (job: JobDetail) => void;
  const done = new Promise<JobDetail>((r) => {
    resolve = r;
  });
  let finished = false;
  const look = (job: JobDetail) => {
    if (finished) return;
    for (const o of observeChanges(state, job, input)) input.bus.emit(o.type, o.data as never);
    if (isTerminalJob(job)) {
      finished = true;
      unwatch();
      resolve(job);
    }
  };
  const unwatch = input.cp.watchJob(input.jobId, look);
  input.cp.getJob(input.jobId).then(look, () => undefined);
  return {
    done,
    stop() {
      finished = true;
      unwatch();
    },
  };
}
