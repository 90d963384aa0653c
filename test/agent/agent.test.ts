/**
 * The agent in-process: lifecycle edge cases with a scripted client, and job flows against the embedded
 * control plane through the real client (faster than a child process, same wire).
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Agent, type AgentOptions, createAgent } from "../../src/agent/agent.ts";
import { createJournal } from "../../src/agent/journal.ts";
import type { ControlPlaneApi } from "../../src/control-plane/api.ts";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { controlPlaneWithRunner, eventually, removeDirs, tempDir } from "./support/control-plane.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { recordingLog, silentLog } from "./support/silent-log.ts";

const dirs: string[] = [];
const planes: EmbeddedControlPlane[] = [];
const agents: Agent[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.shutdownNow("test over");
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
});

async function options(overrides: Partial<AgentOptions> = {}): Promise<AgentOptions> {
  const stateDir = await tempDir("agent-state-");
  dirs.push(stateDir);
  return {
    processType: "",
    groups: ["operations"],
    version: "0.1.0",
    stateDir,
    concurrency: 1,
    groupConcurrency: {},
    jobOrder: "oldest",
    longPoll: true,
    longPollWaitMs: 1_000,
    pollIntervalMs: 20,
    pollMaxIntervalMs: 100,
    settingsRetryMs: 5_000,
    drainTimeoutMs: 5_000,
    killGraceMs: 100,
    heartbeatTimeoutMs: 1_000,
    flushTimeoutMs: 2_000,
    ...overrides,
  };
}

function track(agent: Agent): Agent {
  agents.push(agent);
  return agent;
}

describe("agent lifecycle", () => {
  it("stops cleanly with exit 0 when a drain arrives while the settings are still being fetched", async () => {
    const fake = createFakeClient();
    fake.on(
      "getSettings",
      ((opts: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          opts.signal.addEventListener("abort", () => reject(cpError("ABORTED", "getSettings")));
        })) as never,
    );
    const { log, lines } = recordingLog();
    const agent = track(createAgent(await options(), { client: fake.client, log }));
    const starting = agent.start();
    await eventually(() => fake.ops().includes("getSettings"), "the settings request");
    agent.drain("SIGTERM");
    await starting;
    expect(await agent.done).toEqual({ exitCode: 0, reason: "SIGTERM" });
    expect(agent.state).toBe("stopped");
    const transitions = lines.filter((l) => l.msg === "agent state changed").map((l) => `${l.from}>${l.to}`);
    expect(transitions).toEqual(["starting>draining", "draining>stopped"]);
    expect(fake.ops()).not.toContain("listJobs");
  });

  it("fails start with exit code 2 on a refused token and releases the state directory", async () => {
    const fake = createFakeClient();
    fake.on("getSettings", () => {
      throw cpError("UNAUTHORIZED", "getSettings", 401);
    });
    const opts = await options();
    const agent = track(createAgent(opts, { client: fake.client, log: silentLog() }));
    await expect(agent.start()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect((await agent.done).exitCode).toBe(2);
    expect(agent.state).toBe("stopped");
    const journal = createJournal({ dir: opts.stateDir });
    await expect(journal.open()).resolves.toEqual([]);
    await journal.close();
  });

  it("makes stop() idempotent", async () => {
    const fake = createFakeClient();
    const agent = track(createAgent(await options(), { client: fake.client, log: silentLog() }));
    await agent.start();
    expect(agent.state).toBe("running");
    const [a, b] = await Promise.all([agent.stop("one"), agent.stop("two")]);
    expect(a).toEqual(b);
    expect(await agent.stop("three")).toEqual(a);
    expect(agent.state).toBe("stopped");
    // the registered-process fallback: the fake answers createProcess with undefined, so no updateProcess
    expect(fake.ops()).not.toContain("updateProcess");
  });
});

describe("agent with the embedded control plane", () => {
  async function realSetup(overrides: Partial<AgentOptions> = {}) {
    const { cp, runner, statuses } = await controlPlaneWithRunner();
    planes.push(cp);
    const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
    closers.push(() => client.close());
    const agent = track(
      createAgent(await options(overrides), { client: client as ControlPlaneApi, log: silentLog() }),
    );
    await agent.start();
    return { cp, runner, statuses, agent };
  }

  it("runs a forced shut-down job, aborts the other running job with reason drain, and stops", async () => {
    const { cp, runner, agent } = await realSetup({ groupConcurrency: { operations: 2 } });
    const sleeper = cp.admin.enqueueJob(runner.id, { type: "noop", plan: { sleep_ms: 30_000 } });
    await cp.waitForJob(sleeper.id, (j) => j.executions[0]?.status === "in-progress");
    const shutdown = cp.admin.enqueueJob(runner.id, {
      type: "shut-down",
      metadata: { shutdown_type: "force" },
    });
    const exit = await agent.done;
    expect(exit.exitCode).toBe(0);
    expect(cp.admin.getJob(shutdown.id)?.status).toBe("finished");
    const aborted = cp.admin.getJob(sleeper.id)!;
    expect(aborted.executions[0]?.status).toBe("failed");
    expect(String(aborted.executions[0]?.result?.error_metadata?.message)).toBe(
      `the runner drained without waiting for running jobs (shut-down job ${shutdown.id})`,
    );
  });

  it("records pickup latency, time to first poll and heartbeats for the benchmark", async () => {
    const { cp, runner, agent } = await realSetup({ heartbeatIntervalMs: 50 });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await cp.waitForJob(job.id, (j) => j.status === "finished");
    await eventually(() => agent.stats().heartbeat.sent >= 3, "three heartbeats");
    const stats = agent.stats();
    expect(stats.pickups).toHaveLength(1);
    expect(stats.pickups[0]?.jobId).toBe(job.id);
    expect(stats.pickups[0]?.receiveToClaimMs).toBeGreaterThanOrEqual(0);
    expect(stats.pickups[0]?.createdToClaimMs).toBeGreaterThanOrEqual(0);
    expect(stats.firstPollMs).toBeGreaterThan(0);
    expect(stats.heartbeat.worstGapMs).toBeGreaterThan(0);
    await eventually(() => agent.stats().jobs["noop|finished"] === 1, "the job counted");
    expect(agent.metricsText()).toContain('runner_jobs_total{type="noop",status="finished"} 1');
  });
});

describe("agent health", () => {
  it("fails /healthz naming the loops whose ask hangs, while /readyz stays 200", async () => {
    const fake = createFakeClient();
    fake.on(
      "tailJobs",
      ((_group: string, _wait: number, opts: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          opts.signal.addEventListener("abort", () => reject(cpError("ABORTED", "tailJobs")));
        })) as never,
    );
    const agent = track(
      createAgent(
        await options({
          groups: ["operations", "sync"],
          healthWindowMs: 150,
          admin: { host: "127.0.0.1", port: 0 },
        }),
        {
          client: fake.client,
          log: silentLog(),
        },
      ),
    );
    await agent.start();
    const url = agent.adminUrl!;
    await new Promise((resolve) => setTimeout(resolve, 250));
    const sick = await fetch(`${url}/healthz`);
    expect(sick.status).toBe(503);
    expect(await sick.json()).toMatchObject({ stuck: ["operations", "sync"] });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    agent.drain("test");
    await agent.done;
  });
});
