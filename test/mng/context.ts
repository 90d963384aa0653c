/** A JobContext for calling management handler steps directly, with a recording job log. */
import type { ControlPlaneApi } from "../../src/control-plane/api.ts";
import type { RunnerSettings } from "../../src/control-plane/schemas.ts";
import type { JobContext, JobHandler, RunnerState } from "../../src/jobs/handler.ts";
import { recordingJobLog } from "../agent/support/silent-log.ts";

/** What a test can set. */
export interface ContextOptions {
  metadata?: Record<string, string>;
  settings?: RunnerSettings;
  signal?: AbortSignal;
}

/** Builds the context for `handler` with the raw plan parsed by the handler itself. */
export function jobContext<P>(handler: JobHandler<P>, rawPlan: unknown, options: ContextOptions = {}) {
  const log = recordingJobLog();
  const exits: string[] = [];
  let settingsCalls = 0;
  const client = {
    runnerId: "runner-1",
    baseUrl: "http://127.0.0.1:1",
    async getSettings() {
      settingsCalls += 1;
      return options.settings ?? {};
    },
  } as unknown as ControlPlaneApi;
  const runnerState: RunnerState = {
    processType: "mng",
    startedAtMs: Date.now(),
    jobLoops: () => ({}),
    requestExit: (reason) => {
      exits.push(reason);
    },
  };
  const ctx: JobContext<P> = {
    job: { id: "job-1", type: handler.name, ...(options.metadata ? { metadata: options.metadata } : {}) },
    execution: { id: "exec-1" },
    plan: handler.parsePlan(rawPlan),
    signal: options.signal ?? new AbortController().signal,
    log,
    client,
    result: {},
    outputs: {},
    killGraceMs: 1_000,
    runnerState,
  };
  return { ctx, log, exits, settingsCalls: () => settingsCalls };
}
