/**
 * The embedded control plane's state: runners, jobs, executions, log streams and terraform workspaces, held in
 * Maps (never plain objects keyed by request input) and convertible to a JSON snapshot for persistence. Log
 * records live in the LogStore (log-store.ts), persisted in `<stateDir>/logs/`, not in the snapshot.
 */
import { join } from "node:path";
import * as z from "zod";
import { TERMINAL_JOB_STATUSES } from "../control-plane/schemas.ts";
import { newId, newToken } from "./ids.ts";
import { legacyRecordsBody } from "./legacy-logs.ts";
import { LogStore } from "./log-store.ts";
import type { ExecutionRecord, JobRecord, LogStreamRecord, RunnerRecord, WorkspaceRecord } from "./model.ts";

/** What a snapshot file holds (version 1). */
export interface StoreSnapshot {
  version: 1;
  orgId: string;
  adminToken?: string;
  nextSeq: number;
  runners: RunnerRecord[];
  jobs: JobRecord[];
  executions: ExecutionRecord[];
  logStreams: LogStreamRecord[];
  workspaces: WorkspaceRecord[];
}

/** The outline checked when a snapshot is loaded: records themselves are this server's own output. */
const SnapshotOutline = z.object({
  version: z.literal(1),
  orgId: z.string().min(1),
  adminToken: z.string().optional(),
  nextSeq: z.number().int().nonnegative(),
  runners: z.array(z.looseObject({ id: z.string(), token: z.string() })),
  jobs: z.array(z.looseObject({ job: z.looseObject({ id: z.string() }) })),
  executions: z.array(z.looseObject({ execution: z.looseObject({ id: z.string() }) })),
  logStreams: z.array(z.looseObject({ id: z.string() })),
  workspaces: z.array(z.looseObject({ workspace: z.looseObject({ id: z.string() }) })),
});

/** Parses snapshot JSON text; throws an Error naming the problem. */
export function parseSnapshot(text: string): StoreSnapshot {
  const result = SnapshotOutline.safeParse(JSON.parse(text));
  if (!result.success)
    throw new Error(`state file is not a control-plane snapshot: ${z.prettifyError(result.error)}`);
  return result.data as unknown as StoreSnapshot;
}

/** Options of a ControlPlaneStore. */
export interface ControlPlaneStoreOptions {
  /** Where log files are kept (`<stateDir>/logs`); in memory when absent. */
  stateDir?: string;
  /** Log records held per stream; default MAX_LOG_RECORDS_PER_STREAM. */
  maxLogRecordsPerStream?: number;
  /** Called when a log file cannot be read or written. */
  onLogError?: (err: unknown, message: string) => void;
}

/** All state of one control plane. */
export class ControlPlaneStore {
  readonly orgId: string;
  /** The admin token remembered in the snapshot (so a restart keeps it when none is configured). */
  adminToken: string | undefined;
  readonly runners = new Map<string, RunnerRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly executions = new Map<string, ExecutionRecord>();
  readonly logStreams = new Map<string, LogStreamRecord>();
  readonly workspaces = new Map<string, WorkspaceRecord>();
  /** The records of every log stream. */
  readonly logs: LogStore;
  /** Jobs that are not terminal yet: the monitor only looks at these. */
  readonly activeJobIds = new Set<string>();
  readonly #runnerByToken = new Map<string, RunnerRecord>();
  #nextSeq = 1;

  constructor(snapshot?: StoreSnapshot, opts: ControlPlaneStoreOptions = {}) {
    this.logs = new LogStore({
      ...(opts.stateDir === undefined ? {} : { dir: join(opts.stateDir, "logs") }),
      ...(opts.maxLogRecordsPerStream === undefined
        ? {}
        : { maxRecordsPerStream: opts.maxLogRecordsPerStream }),
      ...(opts.onLogError === undefined ? {} : { onError: opts.onLogError }),
    });
    this.orgId = snapshot?.orgId ?? newId("org");
    this.adminToken = snapshot?.adminToken;
    if (snapshot === undefined) return;
    this.#nextSeq = snapshot.nextSeq;
    for (const runner of snapshot.runners) this.addRunner(runner);
    for (const job of snapshot.jobs) {
      this.jobs.set(job.job.id, job);
      if (job.job.status === undefined || !TERMINAL_JOB_STATUSES.has(job.job.status))
        this.activeJobIds.add(job.job.id);
    }
    for (const exec of snapshot.executions) this.executions.set(exec.execution.id, exec);
    for (const { records, ...stream } of snapshot.logStreams) {
      this.logStreams.set(stream.id, stream);
      this.logs.load(stream.id);
      // A snapshot from before log files: its decoded records move into the log store (and its file).
      if (records !== undefined && records.length > 0 && this.logs.stats(stream.id).records === 0) {
        this.logs.appendBody(stream.id, legacyRecordsBody(records));
      }
    }
    for (const ws of snapshot.workspaces) this.workspaces.set(ws.workspace.id, ws);
  }

  /** The next creation sequence number (orders jobs created within one millisecond). */
  nextSeq(): number {
    return this.#nextSeq++;
  }

  /** Registers a runner record (new or loaded). */
  addRunner(record: RunnerRecord): void {
    this.runners.set(record.id, record);
    this.#runnerByToken.set(record.token, record);
  }

  /** The runner a token belongs to. */
  runnerByToken(token: string): RunnerRecord | undefined {
    return this.#runnerByToken.get(token);
  }

  /** A fresh runner token that no runner holds yet. */
  newRunnerToken(): string {
    let token = newToken();
    while (this.#runnerByToken.has(token)) token = newToken();
    return token;
  }

  /** The executions of a job, oldest first. */
  executionsOf(job: JobRecord): ExecutionRecord[] {
    const out: ExecutionRecord[] = [];
    for (const id of job.executionIds) {
      const exec = this.executions.get(id);
      if (exec !== undefined) out.push(exec);
    }
    return out;
  }

  /** A JSON-ready copy of everything. */
  toSnapshot(): StoreSnapshot {
    return {
      version: 1,
      orgId: this.orgId,
      adminToken: this.adminToken,
      nextSeq: this.#nextSeq,
      runners: [...this.runners.values()],
      jobs: [...this.jobs.values()],
      executions: [...this.executions.values()],
      logStreams: [...this.logStreams.values()].map(({ records: _, ...stream }) => stream),
      workspaces: [...this.workspaces.values()],
    };
  }
}
