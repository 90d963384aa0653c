/**
 * The agent side of a run-local run: the real agent (`createAgent`) in this process with the real client over
 * loopback HTTP — the production code path — and short poll and heartbeat intervals; the executor runs the
 * jobs while it serves them; then it drains. Terraform state of the jobs is read (and, with the embedded
 * control plane, kept between runs) through terraform-state.ts.
 */
import path from "node:path";
import type { Logger } from "pino";
import { createAgent } from "../agent/agent.ts";
import { PROCESS_MODES } from "../agent/process-modes.ts";
import { createControlPlaneClient } from "../control-plane/client.ts";
import type { EventBus } from "../events/bus.ts";
import { createHandlerRegistry } from "../jobs/registry.ts";
import type { Redactor } from "../logs/redact.ts";
import { VERSION } from "../version.ts";
import type { DevControlPlane } from "./control-plane-port.ts";
import { executeRun, type RunResult } from "./executor.ts";
import type { JobSpec } from "./job-file.ts";
import type { RunLocalSettings, SessionIo } from "./session.ts";
import { fetchState, keepState, seedState } from "./terraform-state.ts";

/** What runWithAgent needs. */
export interface AgentRunInput {
  settings: Pick<RunLocalSettings, "stateDir" | "concurrency" | "failFast" | "timeoutMs">;
  io: Pick<SessionIo, "signal" | "urgent">;
  cp: DevControlPlane;
  runner: { id: string; token: string };
  jobs: JobSpec[];
  runId: string;
  agentDir: string;
  workspaceDir: string;
  log: Logger;
  redactor: Redactor;
  bus: EventBus;
}

/** Starts the agent, runs the jobs, drains the agent. */
export async function runWithAgent(input: AgentRunInput): Promise<RunResult> {
  const { settings, io, cp, runner, log, redactor } = input;
  const client = createControlPlaneClient({
    baseUrl: cp.url,
    token: runner.token,
    runnerId: runner.id,
    version: VERSION,
  });
  const groups = PROCESS_MODES.run.groups;
  const agent = createAgent(
    {
      processType: PROCESS_MODES.run.processType,
      groups,
      version: VERSION,
      stateDir: input.agentDir,
      concurrency: settings.concurrency,
      groupConcurrency: Object.fromEntries(groups.map((g) => [g, settings.concurrency])),
      jobOrder: "oldest",
      longPoll: true,
      longPollWaitMs: 25_000,
      pollIntervalMs: 200,
      pollMaxIntervalMs: 1_000,
      settingsRetryMs: 10_000,
      drainTimeoutMs: 15_000,
      killGraceMs: 5_000,
      heartbeatTimeoutMs: 5_000,
      cancelPollMs: 250,
      heartbeatIntervalMs: 2_000,
      workspaceDir: input.workspaceDir,
    },
    { client, log, registry: createHandlerRegistry({}, { apiToken: runner.token, redactor }) },
  );
  const onUrgent = () => agent.shutdownNow("second signal");
  io.urgent?.addEventListener("abort", onUrgent, { once: true });
  try {
    await agent.start();
    const stateOptions = {
      dir: path.join(settings.stateDir, "terraform"),
      baseUrl: cp.url,
      token: runner.token,
    };
    return await executeRun(
      {
        runId: input.runId,
        jobs: input.jobs,
        failFast: settings.failFast,
        timeoutMs: settings.timeoutMs,
        ...(io.signal !== undefined ? { signal: io.signal } : {}),
      },
      {
        cp,
        bus: input.bus,
        runnerId: runner.id,
        redactor,
        log,
        terraform: {
          fetch: (ws) => fetchState(stateOptions, ws),
          ...(cp.kind === "embedded"
            ? {
                seed: (ws: string) => seedState(stateOptions, ws),
                keep: (ws: string, text: string) => keepState(stateOptions.dir, ws, text),
              }
            : {}),
        },
      },
    );
  } finally {
    await agent.stop("run-local finished");
    io.urgent?.removeEventListener("abort", onUrgent);
    await client.close();
  }
}
