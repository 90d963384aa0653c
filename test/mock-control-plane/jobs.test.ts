import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane, JobChange, JobDetail } from "../../src/mock-control-plane/server.ts";
import { call, claim, setStatus, withRunner } from "./helpers.ts";

let cp: EmbeddedControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
});

async function setup(opts: Parameters<typeof withRunner>[0] = {}) {
  const ctx = await withRunner(opts);
  cp = ctx.cp;
  return ctx;
}

describe("jobs and executions", () => {
  it("lets exactly one of two concurrent claims of a job win, for every job", async () => {
    const { cp, runner } = await setup();
    const jobs = Array.from({ length: 40 }, () => cp.admin.enqueueJob(runner.id, { type: "noop" }));
    const results = await Promise.all(
      jobs.flatMap((job) =>
        [0, 1].map(() =>
          call(`${cp.url}/v1/runner-jobs/${job.id}/executions`, { token: runner.token, body: {} }),
        ),
      ),
    );
    for (let i = 0; i < jobs.length; i++) {
      const statuses = [results[2 * i]?.status, results[2 * i + 1]?.status].sort();
      expect(statuses).toEqual([201, 409]);
      const loser = results[2 * i]?.status === 409 ? results[2 * i] : results[2 * i + 1];
      expect(loser?.json).toMatchObject({
        error: "conflict",
        description: expect.stringContaining("in-progress"),
      });
      expect(cp.admin.getJob(jobs[i]?.id ?? "")?.executions).toHaveLength(1);
    }
  });

  it("lists available jobs newest first, filtered by group, honouring limit", async () => {
    const { cp, runner, as } = await setup();
    const first = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const deploy = cp.admin.enqueueJob(runner.id, { type: "terraform-deploy" });
    const second = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const ops = await as(`/v1/runners/${runner.id}/jobs?group=operations`);
    expect((ops.json as { id: string }[]).map((j) => j.id)).toEqual([second.id, first.id]);
    const all = await as(`/v1/runners/${runner.id}/jobs`);
    expect((all.json as { id: string }[]).map((j) => j.id)).toEqual([second.id, deploy.id, first.id]);
    const limited = await as(`/v1/runners/${runner.id}/jobs?limit=1`);
    expect((limited.json as { id: string }[]).map((j) => j.id)).toEqual([second.id]);
    expect(limited.headers["x-nuon-page-next"]).toBe("true");
    expect(deploy).toMatchObject({
      group: "deploy",
      status: "available",
      execution_timeout: 3_600_000_000_000,
    });
  });

  it("runs a job from available to finished and shows the result and outputs in the job detail", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", plan: { hello: "world" } });
    expect(job.log_stream_id).toMatch(/^lst/);
    const plan = await as(`/v1/runner-jobs/${job.id}/plan`);
    expect(plan.headers["content-type"]).toContain("text/plain");
    expect(plan.text).toBe('{"hello":"world"}');
    const execId = await claim(cp, runner.token, job.id);
    expect(cp.admin.getJob(job.id)?.status).toBe("in-progress");
    await setStatus(cp, runner.token, job.id, execId, "initializing");
    await setStatus(cp, runner.token, job.id, execId, "in-progress");
    const outputs = await as(`/v1/runner-jobs/${job.id}/executions/${execId}/outputs`, {
      body: { outputs: { answer: 42, nested: { ok: true } } },
    });
    expect(outputs.status).toBe(201);
    const result = await as(`/v1/runner-jobs/${job.id}/executions/${execId}/result`, {
      body: { success: true, contents_compressed: "H4sI" },
    });
    expect(result.status).toBe(201);
    expect(result.json).toMatchObject({ success: true, runner_job_execution_id: execId });
    await setStatus(cp, runner.token, job.id, execId, "cleaning-up");
    await setStatus(cp, runner.token, job.id, execId, "finished");
    const detail = await cp.waitForJob(job.id, (j) => j.status === "finished");
    expect(detail).toMatchObject({
      status: "finished",
      execution_count: 1,
      final_runner_job_execution_id: execId,
      outputs: { answer: 42, nested: { ok: true } },
      plan: { hello: "world" },
    });
    expect(detail.executions[0]).toMatchObject({
      status: "finished",
      result: { success: true, contents_compressed: "H4sI" },
      outputs: { answer: 42, nested: { ok: true } },
    });
    const wire = await as(`/v1/runner-jobs/${job.id}`);
    expect(wire.json).toMatchObject({ status: "finished", executions: [{ id: execId, status: "finished" }] });
  });

  it("announces every change as job:changed (status, execution count) and job:updated (the detail), before the reply", async () => {
    const { cp, runner } = await setup();
    const seen: string[] = [];
    cp.events.on("job:changed", (c: JobChange) => seen.push(`changed ${c.status} ${c.executionCount}`));
    cp.events.on("job:updated", (d: JobDetail) => seen.push(`updated ${d.status} ${d.executions.length}`));
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await Promise.resolve();
    expect(seen).toEqual(["changed available 0", "updated available 0"]);
    const execId = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, execId, "finished");
    expect(seen.slice(2)).toEqual([
      "changed in-progress 1",
      "updated in-progress 1",
      "changed finished 1",
      "updated finished 1",
    ]);
  });

  it.each([
    ["failed", "failed", "execution failed"],
    ["timed-out", "failed", "execution timed out"],
    ["not-attempted", "failed", "execution was not attempted"],
  ])("turns an execution reported %s into a job %s", async (execStatus, jobStatus, description) => {
    const { cp, runner } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execId = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, execId, execStatus);
    expect(cp.admin.getJob(job.id)).toMatchObject({ status: jobStatus, status_description: description });
  });

  it("re-offers a job whose execution was cancelled while executions remain, then cancels it", async () => {
    const { cp, runner } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", max_executions: 2 });
    const first = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, first, "cancelled");
    expect(cp.admin.getJob(job.id)?.status).toBe("available");
    const second = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, second, "cancelled");
    expect(cp.admin.getJob(job.id)).toMatchObject({ status: "cancelled", execution_count: 2 });
  });

  it("answers 400 and cancels the job when a claim exceeds max_executions", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "shut-down" });
    const execId = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, execId, "in-progress");
    // A runner may hand a job back (UpdateRunnerJob); its single execution is already used.
    const back = await as(`/v1/runner-jobs/${job.id}`, { method: "PATCH", body: { status: "available" } });
    expect(back.status).toBe(200);
    const again = await as(`/v1/runner-jobs/${job.id}/executions`, { body: {} });
    expect(again.status).toBe(400);
    expect(again.json).toMatchObject({
      error: "invalid request",
      description: expect.stringContaining("max executions"),
    });
    expect(cp.admin.getJob(job.id)?.status).toBe("cancelled");
  });

  it("cancels a job and its running execution (runner route and admin API)", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execId = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, execId, "in-progress");
    const res = await as(`/v1/runner-jobs/${job.id}/cancel`, { body: {} });
    expect(res.status).toBe(200);
    const detail = cp.admin.getJob(job.id);
    expect(detail).toMatchObject({ status: "cancelled", executions: [{ id: execId, status: "cancelled" }] });
    // The control plane decided first: a late report from the runner does not change the execution.
    await setStatus(cp, runner.token, job.id, execId, "finished");
    expect(cp.admin.getJob(job.id)?.executions[0]?.status).toBe("cancelled");

    const other = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const admin = await call(`${cp.url}/admin/runner-jobs/${other.id}/cancel`, {
      token: cp.adminToken,
      body: {},
    });
    expect(admin.json).toMatchObject({ id: other.id, status: "cancelled" });
  });

  it("times out a job nobody claims within its available timeout", async () => {
    const { cp, runner } = await setup({ monitorIntervalMs: 10 });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", available_timeout: 50_000_000 });
    const detail = await cp.waitForJob(job.id, (j) => j.status !== "available", 2_000);
    expect(detail).toMatchObject({
      status: "timed-out",
      status_description: expect.stringContaining("available"),
    });
  });

  it("times out an execution that outlives its execution timeout, and its job", async () => {
    const { cp, runner } = await setup({ monitorIntervalMs: 10 });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", execution_timeout: 80_000_000 });
    const execId = await claim(cp, runner.token, job.id);
    await setStatus(cp, runner.token, job.id, execId, "in-progress");
    const detail = await cp.waitForJob(job.id, (j) => j.status !== "in-progress", 2_000);
    expect(detail).toMatchObject({ status: "timed-out", executions: [{ status: "timed-out" }] });
  });

  it("times out a claimed job and its execution at the overall timeout", async () => {
    const { cp, runner } = await setup({ monitorIntervalMs: 10 });
    const job = cp.admin.enqueueJob(runner.id, {
      type: "noop",
      overall_timeout: 100_000_000,
      max_executions: 3,
    });
    const execId = await claim(cp, runner.token, job.id);
    const detail = await cp.waitForJob(job.id, (j) => j.status !== "in-progress", 2_000);
    expect(detail).toMatchObject({
      status: "timed-out",
      status_description: expect.stringContaining("overall"),
      executions: [{ id: execId, status: "timed-out" }],
    });
  });

  it("marks a job never claimed within its queue timeout not-attempted", async () => {
    const { cp, runner } = await setup({ monitorIntervalMs: 10 });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", queue_timeout: 50_000_000 });
    const detail = await cp.waitForJob(job.id, (j) => j.status !== "available", 2_000);
    expect(detail.status).toBe("not-attempted");
  });

  it("re-offers a job whose execution timed out while executions remain", async () => {
    const { cp, runner } = await setup({ monitorIntervalMs: 10 });
    const job = cp.admin.enqueueJob(runner.id, {
      type: "noop",
      execution_timeout: 60_000_000,
      max_executions: 2,
    });
    await claim(cp, runner.token, job.id);
    const detail = await cp.waitForJob(job.id, (j) => j.status === "available", 2_000);
    expect(detail.executions.map((e) => e.status)).toEqual(["timed-out"]);
  });

  it("rejects a malformed body with 400 naming the field", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execId = await claim(cp, runner.token, job.id);
    const badStatus = await as(`/v1/runner-jobs/${job.id}/executions/${execId}`, {
      method: "PATCH",
      body: { status: "done" },
    });
    expect(badStatus.status).toBe(400);
    expect(badStatus.json).toMatchObject({
      error: "invalid request",
      description: expect.stringMatching(/^status: /),
    });
    const badResult = await as(`/v1/runner-jobs/${job.id}/executions/${execId}/result`, {
      body: { success: "yes" },
    });
    expect(badResult.json).toMatchObject({ description: expect.stringMatching(/^success: /) });
    const notJson = await as(`/v1/runner-jobs/${job.id}/executions/${execId}/outputs`, {
      body: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
    expect(notJson.json).toMatchObject({ description: expect.stringContaining("not valid JSON") });
    const badEnqueue = await call(`${cp.url}/admin/runners/${runner.id}/jobs`, {
      token: cp.adminToken,
      body: { type: "noop", execution_timeout: "5m" },
    });
    expect(badEnqueue.status).toBe(400);
    expect(badEnqueue.json).toMatchObject({ description: expect.stringMatching(/^execution_timeout: /) });
  });

  it("answers 401 for a missing or wrong token and 403 for another runner's job", async () => {
    const { cp, runner } = await setup();
    const other = cp.admin.createRunner();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const missing = await call(`${cp.url}/v1/runner-jobs/${job.id}`);
    expect(missing.status).toBe(401);
    expect(missing.json).toMatchObject({ error: "unauthorized" });
    expect((await call(`${cp.url}/v1/runner-jobs/${job.id}`, { token: "wrong" })).status).toBe(401);
    expect((await call(`${cp.url}/v1/runner-jobs/${job.id}`, { token: other.token })).status).toBe(403);
    expect((await call(`${cp.url}/v1/runners/${runner.id}/settings`, { token: other.token })).status).toBe(
      403,
    );
    const claimByOther = await call(`${cp.url}/v1/runner-jobs/${job.id}/executions`, {
      token: other.token,
      body: {},
    });
    expect(claimByOther.status).toBe(403);
    expect(cp.admin.getJob(job.id)?.status).toBe("available");
    expect((await call(`${cp.url}/admin/runners`, { token: runner.token, body: {} })).status).toBe(403);
    const unknown = await call(`${cp.url}/v1/no-such-route`, { token: runner.token });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: "not found" });
  });

  it("derives the composite plan from the job type and counts requests by operation", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "helm-chart-deploy", plan: { helm: { name: "x" } } });
    const composite = await as(`/v1/runner-jobs/${job.id}/composite-plan`);
    expect(composite.json).toEqual({ deploy_plan: { helm: { name: "x" } } });
    expect(cp.stats().requests).toMatchObject({ GetRunnerJobCompositePlan: 1 });
  });

  it("rejects waitForJob with the job's status when the predicate never holds", async () => {
    const { cp, runner } = await setup();
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await expect(cp.waitForJob(job.id, (j) => j.status === "finished", 50)).rejects.toThrow(
      /did not reach the expected state within 50 ms; its status is available/,
    );
  });
});
