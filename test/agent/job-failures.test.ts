/**
 * What goes wrong with jobs, with a real runner process: malformed plans, unknown types, failing handlers,
 * deadlines and cancels each end that one job with the cause named; the runner stays up and the next job
 * succeeds. Also: without the long-poll endpoint the runner falls back to listing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { type RunnerChild, startRunner, stopAllRunners } from "../support/runner-process.ts";
import { controlPlaneWithRunner, removeDirs, tempDir } from "./support/control-plane.ts";

let cp: EmbeddedControlPlane;
let runnerId: string;
let child: RunnerChild;
let statuses: Map<string, string[]>;
const dirs: string[] = [];

beforeAll(async () => {
  const ctx = await controlPlaneWithRunner();
  cp = ctx.cp;
  runnerId = ctx.runner.id;
  statuses = ctx.statuses;
  const stateDir = await tempDir("runner-state-");
  dirs.push(stateDir);
  child = startRunner({
    apiUrl: cp.url,
    token: ctx.runner.token,
    runnerId,
    stateDir,
    env: { RUNNER_CONCURRENCY: "3" },
  });
  await child.waitForLog((l) => l.msg === "runner started", 15_000);
});

afterAll(async () => {
  await stopAllRunners();
  await cp.close();
  await removeDirs(dirs);
});

async function expectNextJobSucceeds() {
  const next = cp.admin.enqueueJob(runnerId, { type: "noop" });
  await cp.waitForJob(next.id, (j) => j.status === "finished", 10_000);
  expect(child.child.exitCode).toBeNull();
}

describe("job failures (child process)", () => {
  it("fails a job with a malformed plan naming the field, and keeps running", async () => {
    const job = cp.admin.enqueueJob(runnerId, { type: "noop", plan: { sleep_ms: "soon" } });
    const done = await cp.waitForJob(job.id, (j) => j.status === "failed", 10_000);
    const meta = done.executions[0]?.result?.error_metadata;
    expect(meta).toMatchObject({ step: "fetch", handler: "noop", job_type: "noop" });
    expect(String(meta?.message)).toContain("sleep_ms");
    await expectNextJobSucceeds();
  });

  it("claims a job of an unknown type and fails it naming the type", async () => {
    const job = cp.admin.enqueueJob(runnerId, { type: "quantum-deploy", group: "operations" });
    const done = await cp.waitForJob(job.id, (j) => j.status === "failed", 10_000);
    expect(done.executions).toHaveLength(1);
    expect(done.executions[0]?.result?.error_metadata).toMatchObject({
      step: "handler",
      job_type: "quantum-deploy",
      message: 'this runner has no handler for job type "quantum-deploy"',
    });
    await expectNextJobSucceeds();
  });

  it("fails a job whose handler throws with its message, after initializing and in-progress", async () => {
    const job = cp.admin.enqueueJob(runnerId, { type: "noop", plan: { fail_message: "the widget broke" } });
    const done = await cp.waitForJob(job.id, (j) => j.status === "failed", 10_000);
    const exec = done.executions[0]!;
    expect(exec.result?.error_metadata).toMatchObject({ step: "execute", message: "the widget broke" });
    expect(statuses.get(exec.id)).toEqual(["pending", "initializing", "in-progress", "failed"]);
  });

  it("brings a cancel at the control plane to the handler within a second; the execution ends cancelled", async () => {
    const job = cp.admin.enqueueJob(runnerId, { type: "noop", plan: { sleep_ms: 30_000 } });
    await child.waitForLog((l) => l.msg === "noop job sleeping" && l.jobId === job.id);
    const cancelledAt = Date.now();
    cp.admin.cancelJob(job.id);
    const aborted = await child.waitForLog((l) => l.msg === "job aborted" && l.jobId === job.id, 5_000);
    expect(aborted.kind).toBe("cancelled");
    expect(Date.parse(String(aborted.time ?? "")) || Number(aborted.time)).toBeLessThan(cancelledAt + 1_000);
    const ended = await child.waitForLog((l) => l.msg === "job did not finish" && l.jobId === job.id, 5_000);
    expect(ended.status).toBe("cancelled");
    const done = cp.admin.getJob(job.id)!;
    expect(done.status).toBe("cancelled");
    expect(done.executions[0]?.status).toBe("cancelled");
    await expectNextJobSucceeds();
  });

  it("times a job out at its execution_timeout", async () => {
    const job = cp.admin.enqueueJob(runnerId, {
      type: "noop",
      plan: { sleep_ms: 30_000 },
      execution_timeout: 700e6,
    });
    const ended = await child.waitForLog((l) => l.msg === "job did not finish" && l.jobId === job.id, 10_000);
    expect(ended.status).toBe("timed-out");
    const done = await cp.waitForJob(job.id, (j) => j.status !== "in-progress" && j.status !== "available");
    expect(done.executions[0]?.status).toBe("timed-out");
  });
});

describe("without the long-poll endpoint", () => {
  it("falls back to listing jobs for the rest of its life when the tail endpoint answers 404", async () => {
    // the settings claim long-polling, but the route is off: the runner must find out by the 404
    const ctx = await controlPlaneWithRunner({ tail: false }, { long_poll_jobs: true });
    const stateDir = await tempDir("runner-state-");
    dirs.push(stateDir);
    try {
      const poller = startRunner({
        apiUrl: ctx.cp.url,
        token: ctx.runner.token,
        runnerId: ctx.runner.id,
        stateDir,
        command: "build",
      });
      await poller.waitForLog((l) => l.msg === "runner started", 15_000);
      await poller.waitForLog(
        (l) => l.msg === "the control plane does not offer long-polling; polling the job list instead",
      );
      const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
      await ctx.cp.waitForJob(job.id, (j) => j.status === "finished", 10_000);
      const before = ctx.cp.stats().requests;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = ctx.cp.stats().requests;
      expect((after.GetRunnerJobs ?? 0) - (before.GetRunnerJobs ?? 0)).toBeGreaterThan(0);
      expect(after.TailRunnerJobs ?? 0).toBe(before.TailRunnerJobs ?? 0);
      // a build runner has three loops; each asked the tail endpoint once
      expect(
        poller.lines.filter((l) => String(l.msg).startsWith("the control plane does not offer")).length,
      ).toBe(3);
      poller.signal("SIGTERM");
      expect((await poller.exited).code).toBe(0);
    } finally {
      await ctx.cp.close();
    }
  });
});
