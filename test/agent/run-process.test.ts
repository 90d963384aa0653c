/**
 * The runner as a child process against the embedded control plane: jobs flow through every status,
 * heartbeats are truthful, the admin server answers, and SIGTERM drains.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { type RunnerChild, startRunner, stopAllRunners } from "../support/runner-process.ts";
import { controlPlaneWithRunner, eventually, removeDirs, tempDir } from "./support/control-plane.ts";

const planes: EmbeddedControlPlane[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await stopAllRunners();
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
});

async function setup(settings = {}) {
  const ctx = await controlPlaneWithRunner({}, settings);
  planes.push(ctx.cp);
  const stateDir = await tempDir("runner-state-");
  dirs.push(stateDir);
  const spawnedAtMs = Date.now();
  const runner = startRunner({
    apiUrl: ctx.cp.url,
    token: ctx.runner.token,
    runnerId: ctx.runner.id,
    stateDir,
  });
  return { ...ctx, stateDir, child: runner, spawnedAtMs };
}

const started = (child: RunnerChild) => child.waitForLog((l) => l.msg === "runner started", 15_000);

describe("runner run (child process)", () => {
  it("runs noop and health-check jobs through initializing, in-progress, cleaning-up and finished", async () => {
    const { cp, runner, statuses, child } = await setup();
    await started(child);
    const noop = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const health = cp.admin.enqueueJob(runner.id, { type: "health-check" });
    const doneNoop = await cp.waitForJob(noop.id, (j) => j.status === "finished", 10_000);
    const doneHealth = await cp.waitForJob(health.id, (j) => j.status === "finished", 10_000);
    for (const job of [doneNoop, doneHealth]) {
      expect(job.executions).toHaveLength(1);
      const exec = job.executions[0]!;
      expect(statuses.get(exec.id)).toEqual([
        "pending",
        "initializing",
        "in-progress",
        "cleaning-up",
        "finished",
      ]);
      expect(exec.result?.success).toBe(true);
    }
    const loops = doneHealth.executions[0]?.outputs?.job_loops as Record<string, number>;
    expect(Object.keys(loops).sort()).toEqual([
      "actions",
      "build",
      "deploy",
      "operations",
      "runner",
      "sandbox",
      "sync",
    ]);
    for (const ns of Object.values(loops)) {
      expect(Number.isInteger(ns)).toBe(true);
      expect(ns).toBeGreaterThan(0);
      expect(ns).toBeLessThan(30e9);
    }
  });

  it("heartbeats with a truthful alive_time, its version and process, and serves the admin endpoints", async () => {
    const { cp, runner, child, spawnedAtMs } = await setup();
    await started(child);
    const admin = await child.adminUrl();
    await eventually(() => cp.admin.runnerHealth(runner.id).heartbeats.length >= 2, "two heartbeats");
    const health = cp.admin.runnerHealth(runner.id);
    expect(health.status).toBe("active");
    expect(health.heartbeats.length).toBeGreaterThanOrEqual(2);
    const last = health.heartbeats.at(-1)!;
    expect(last.process ?? "").toBe(""); // the server omits zero values (omitzero)
    expect(last.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(last.process_id).toBeTruthy();
    // alive_time counts from process start (not from when the agent started): it matches the time from the
    // spawn to the heartbeat's arrival, within the spawn's own latency
    const sinceSpawnMs = Date.parse(last.created_at!) - spawnedAtMs;
    expect(Math.abs(last.alive_time! / 1e6 - sinceSpawnMs)).toBeLessThan(500);

    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    const ready = await fetch(`${admin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ state: "running", settingsFetched: true });
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain("runner_up 1");
    expect(metrics).toMatch(/runner_heartbeats_total [1-9]/);
    expect(metrics).toMatch(/runner_first_poll_seconds \d/);
  });

  it("drains on SIGTERM: the running job completes, heartbeats continue, /readyz turns 503, exit code 0", async () => {
    const { cp, runner, child } = await setup();
    await started(child);
    const admin = await child.adminUrl();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", plan: { sleep_ms: 2_500 } });
    await child.waitForLog((l) => l.msg === "noop job sleeping");
    const beatsBefore = cp.admin.runnerHealth(runner.id).heartbeats.length;
    child.signal("SIGTERM");
    await child.waitForLog((l) => l.msg === "agent state changed" && l.to === "draining");
    expect((await fetch(`${admin}/readyz`)).status).toBe(503);
    // a job enqueued during the drain is not taken
    const late = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await eventually(
      () => cp.admin.runnerHealth(runner.id).heartbeats.length >= beatsBefore + 2,
      "heartbeats during the drain",
    );
    expect(child.child.exitCode).toBeNull();
    const exit = await child.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const done = cp.admin.getJob(job.id)!;
    expect(done.status).toBe("finished");
    expect(done.executions[0]?.result?.success).toBe(true);
    expect(cp.admin.getJob(late.id)?.status).toBe("available");
  });

  it("stops at once on a second SIGTERM: the running job is aborted and reported failed", async () => {
    const { cp, runner, child } = await setup();
    await started(child);
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", plan: { sleep_ms: 60_000 } });
    await child.waitForLog((l) => l.msg === "noop job sleeping");
    child.signal("SIGTERM");
    await child.waitForLog((l) => l.msg === "agent state changed" && l.to === "draining");
    const second = performance.now();
    child.signal("SIGTERM");
    const exit = await child.exited;
    expect(performance.now() - second).toBeLessThan(5_000);
    expect(exit.code).toBe(0);
    const done = cp.admin.getJob(job.id)!;
    expect(done.status).toBe("failed");
    expect(done.executions[0]?.status).toBe("failed");
    expect(done.executions[0]?.result?.error_metadata).toMatchObject({ step: "execute" });
    expect(String(done.executions[0]?.result?.error_metadata?.message)).toContain("stop at once");
  });

  it.each(["shut-down", "update-version"])(
    "finishes a %s job, then drains and exits 0 so the supervisor restarts it",
    async (type) => {
      const { cp, runner, statuses, child } = await setup();
      await started(child);
      const job = cp.admin.enqueueJob(runner.id, { type });
      const exit = await child.exited;
      expect(exit.code).toBe(0);
      const done = cp.admin.getJob(job.id)!;
      expect(done.status).toBe("finished");
      expect(statuses.get(done.executions[0]!.id)?.at(-1)).toBe("finished");
      expect(child.lines.some((l) => l.msg === "a job asked the runner to exit")).toBe(true);
    },
  );
});
