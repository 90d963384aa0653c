/**
 * Running one job through the real step pipeline (runJob) against the embedded control plane over loopback:
 * the plan is enqueued there, the real client fetches it, results and outputs are posted back. Every job log
 * entry is kept with its fields, so tests can assert on what was logged (and on what never was).
 */
import path from "node:path";
import { type ControlPlaneClient, createControlPlaneClient } from "../../src/control-plane/client.ts";
import type { JobType } from "../../src/control-plane/schemas.ts";
import type { HandlerFactory, JobLog, RunnerState } from "../../src/jobs/handler.ts";
import { type JobOutcome, runJob } from "../../src/jobs/run-job.ts";
import {
  type EmbeddedControlPlane,
  type JobDetail,
  startControlPlane,
} from "../../src/mock-control-plane/server.ts";
import { createWorkspace } from "../../src/workspace/workspace.ts";

/** One job log entry. */
export interface LogEntry {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** What a job run left behind. */
export interface HarnessRun {
  outcome: JobOutcome;
  detail: JobDetail;
  entries: LogEntry[];
  /** Every entry as one text (levels, messages and fields as JSON), for "never logged" assertions. */
  text(): string;
  /** The outputs the job posted. */
  outputs: Record<string, unknown> | undefined;
}

/** A control plane, a runner and its client. */
export interface JobHarness {
  cp: EmbeddedControlPlane;
  /** The runner registered on `cp` that `client` speaks as. */
  runnerId: string;
  client: ControlPlaneClient;
  /** Runs one job; `workspaceRoot` set: the job gets a fresh workspace there (removed afterwards). */
  run(input: {
    type: JobType;
    operation?: string;
    plan: unknown;
    factory: HandlerFactory;
    workspaceRoot?: string;
  }): Promise<HarnessRun>;
  close(): Promise<void>;
}

/** A runner state for jobs run outside an agent (no loops, exit requests ignored). */
export const TEST_RUNNER_STATE: RunnerState = {
  processType: "",
  startedAtMs: 0,
  jobLoops: () => ({}),
  requestExit: () => undefined,
};

/** Starts a harness; close it in afterAll. */
export async function startJobHarness(): Promise<JobHarness> {
  const cp = await startControlPlane();
  const runner = cp.admin.createRunner();
  const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
  return {
    cp,
    runnerId: runner.id,
    client,
    async run(input) {
      const job = cp.admin.enqueueJob(runner.id, {
        type: input.type,
        ...(input.operation !== undefined ? { operation: input.operation } : {}),
        plan: input.plan,
      });
      const execution = await client.createExecution(job.id);
      const workspace =
        input.workspaceRoot === undefined
          ? undefined
          : await createWorkspace({
              root: path.join(input.workspaceRoot, "ws"),
              jobId: job.id,
              executionId: execution.id,
            });
      const entries: LogEntry[] = [];
      const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
        entries.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
      };
      const log: JobLog = {
        info: at("info"),
        warn: at("warn"),
        error: at("error"),
        debug: at("debug"),
        line: (text, stream) => at(stream)(text),
      };
      try {
        const outcome = await runJob({
          job,
          execution,
          handlerFactory: input.factory,
          client,
          log,
          runnerState: TEST_RUNNER_STATE,
          killGraceMs: 2_000,
          ...(workspace === undefined ? {} : { workspaceDir: workspace.dir }),
        });
        await client.createResult(job.id, execution.id, outcome.result);
        const detail = cp.admin.getJob(job.id);
        if (detail === undefined) throw new Error(`job ${job.id} vanished from the control plane`);
        return {
          outcome,
          detail,
          entries,
          text: () => entries.map((e) => `${e.level}: ${e.msg} ${JSON.stringify(e.fields ?? {})}`).join("\n"),
          outputs: detail.executions.at(-1)?.outputs as Record<string, unknown> | undefined,
        };
      } finally {
        await workspace?.cleanup();
      }
    },
    async close() {
      await client.close();
      await cp.close();
    },
  };
}
