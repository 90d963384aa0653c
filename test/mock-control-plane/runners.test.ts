import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { call, withRunner } from "./helpers.ts";

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

describe("runners, settings and heartbeats", () => {
  it("serves default settings with durations in ns and the runner's metadata", async () => {
    const { cp, runner, as } = await setup();
    const res = await as(`/v1/runners/${runner.id}/settings`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      heart_beat_timeout: 5_000_000_000,
      enable_logging: true,
      logging_level: "INFO",
      runner_api_url: cp.url,
      long_poll_jobs: true,
      metadata: { "runner.id": runner.id },
    });
    expect(runner.id).toMatch(/^run[a-z0-9]{23}$/);
  });

  it("applies settings patches from the admin API, in process and over HTTP", async () => {
    const { cp, runner, as } = await setup();
    cp.admin.updateSettings(runner.id, { enable_logging: false, metadata: { "install.id": "ins1" } });
    const patched = await call(`${cp.url}/admin/runners/${runner.id}/settings`, {
      method: "PATCH",
      token: cp.adminToken,
      body: { heart_beat_timeout: 1_000_000_000, job_group_parallelism: { deploy: "2" } },
    });
    expect(patched.status).toBe(200);
    const res = await as(`/v1/runners/${runner.id}/settings`);
    expect(res.json).toMatchObject({
      enable_logging: false,
      heart_beat_timeout: 1_000_000_000,
      job_group_parallelism: { deploy: "2" },
      metadata: { "runner.id": runner.id, "install.id": "ins1" },
    });
    const bad = await call(`${cp.url}/admin/runners/${runner.id}/settings`, {
      method: "PATCH",
      token: cp.adminToken,
      body: { heart_beat_timeout: "5s" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ description: expect.stringMatching(/^heart_beat_timeout: /) });
  });

  it("records heartbeats, reports the runner active, then error once they stop", async () => {
    const { cp, runner, as } = await setup({ runnerHealthTimeoutMs: 100 });
    expect(cp.admin.runnerHealth(runner.id).status).toBe("pending");
    const beat = await as(`/v1/runners/${runner.id}/heart-beats`, {
      body: { alive_time: 2_000_000_000, version: "0.1.0", process: "" },
    });
    expect(beat.status).toBe(201);
    const body = beat.json as { created_at: string; started_at: string; alive_time: number };
    expect(Date.parse(body.created_at) - Date.parse(body.started_at)).toBe(2_000);
    expect(cp.admin.runnerHealth(runner.id)).toMatchObject({
      status: "active",
      heartbeats: [{ version: "0.1.0" }],
    });
    expect((await as(`/v1/runners/${runner.id}`)).json).toMatchObject({ id: runner.id, status: "active" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(cp.admin.runnerHealth(runner.id).status).toBe("error");
    const admin = await call(`${cp.url}/admin/runners/${runner.id}`, { token: cp.adminToken });
    expect(admin.json).toMatchObject({ id: runner.id, status: "error", lastHeartbeatAt: body.created_at });
    const missing = await as(`/v1/runners/${runner.id}/heart-beats`, { body: { version: "0.1.0" } });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ description: expect.stringMatching(/^alive_time: /) });
  });

  it("records health checks", async () => {
    const { runner, as } = await setup();
    const res = await as(`/v1/runners/${runner.id}/health-checks`, { body: { process: "install" } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ runner_id: runner.id, process: "install" });
  });

  it("registers a process, hands it a shutdown request and completes it", async () => {
    const { cp, runner, as } = await setup();
    const created = await as(`/v1/runners/${runner.id}/processes`, {
      body: { type: "install", version: "0.1.0" },
    });
    expect(created.status).toBe(201);
    const process = created.json as { id: string; log_stream_id: string };
    expect(process.log_stream_id).toMatch(/^lst/);
    const patched = await as(`/v1/runners/${runner.id}/processes/${process.id}`, {
      method: "PATCH",
      body: { status: "active" },
    });
    expect(patched.json).toMatchObject({ id: process.id, status: "active" });
    const requested = await call(`${cp.url}/admin/runners/${runner.id}/processes/${process.id}/shutdowns`, {
      token: cp.adminToken,
      body: { type: "graceful" },
    });
    expect(requested.status).toBe(201);
    const shutdownId = (requested.json as { id: string }).id;
    const fetched = await as(`/v1/runners/${runner.id}/processes/${process.id}`);
    expect(fetched.json).toMatchObject({
      shutdowns: [{ id: shutdownId, type: "graceful", status: "pending" }],
    });
    const done = await as(
      `/v1/runners/${runner.id}/processes/${process.id}/shutdowns/${shutdownId}/complete`,
      {
        body: {},
      },
    );
    expect(done.json).toMatchObject({ id: shutdownId, status: "completed" });
  });
});

describe("the admin API over HTTP", () => {
  it("registers a runner, enqueues a job and shows it with its detail", async () => {
    const { cp } = await setup();
    const created = await call(`${cp.url}/admin/runners`, {
      token: cp.adminToken,
      body: { settings: { logging_level: "DEBUG" } },
    });
    expect(created.status).toBe(201);
    const runner = created.json as { id: string; token: string };
    const settings = await call(`${cp.url}/v1/runners/${runner.id}/settings`, { token: runner.token });
    expect(settings.json).toMatchObject({ logging_level: "DEBUG" });
    const enqueued = await call(`${cp.url}/admin/runners/${runner.id}/jobs`, {
      token: cp.adminToken,
      body: { type: "actions-workflow", plan: { id: "awr1" }, metadata: { k: "v" } },
    });
    expect(enqueued.status).toBe(201);
    const job = enqueued.json as { id: string };
    expect(job).toMatchObject({ status: "available", group: "actions", metadata: { k: "v" } });
    expect(job.id).toMatch(/^rjb/);
    const detail = await call(`${cp.url}/admin/runner-jobs/${job.id}`, { token: cp.adminToken });
    expect(detail.json).toMatchObject({ id: job.id, executions: [], logs: [], plan: { id: "awr1" } });
    const list = await call(`${cp.url}/admin/runners/${runner.id}/jobs`, { token: cp.adminToken });
    expect((list.json as { id: string }[]).map((j) => j.id)).toEqual([job.id]);
    const noType = await call(`${cp.url}/admin/runners/${runner.id}/jobs`, {
      token: cp.adminToken,
      body: {},
    });
    expect(noType.status).toBe(400);
    expect(noType.json).toMatchObject({ description: expect.stringMatching(/^type: /) });
    expect((await call(`${cp.url}/admin/runners`, { body: {} })).status).toBe(401);
  });

  it("records action workflow steps on the running execution they belong to", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, {
      type: "actions-workflow",
      plan: { id: "awr1", install_id: "ins1", steps: [{ run_id: "step1" }] },
    });
    const exec = await as(`/v1/runner-jobs/${job.id}/executions`, { body: {} });
    const res = await as("/v1/installs/ins1/action-workflow-runs/awr1/steps/step1", {
      method: "PUT",
      body: { status: "finished", execution_duration: 5_000_000_000 },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: "step1", status: "finished", execution_duration: 5_000_000_000 });
    expect(cp.admin.getJob(job.id)?.executions[0]).toMatchObject({
      id: (exec.json as { id: string }).id,
      steps: [{ step_id: "step1", status: "finished", execution_duration: 5_000_000_000 }],
    });
  });

  it("records a step reported after its execution ended (timed out first at the control plane) on that execution", async () => {
    const { cp, runner, as } = await setup();
    const job = cp.admin.enqueueJob(runner.id, {
      type: "actions-workflow",
      plan: { id: "awr2", install_id: "ins1", steps: [{ run_id: "s1" }, { run_id: "s2" }] },
    });
    const exec = (await as(`/v1/runner-jobs/${job.id}/executions`, { body: {} })).json as { id: string };
    const ended = await as(`/v1/runner-jobs/${job.id}/executions/${exec.id}`, {
      method: "PATCH",
      body: { status: "timed-out" },
    });
    expect(ended.status).toBe(200);
    for (const [step, status] of [
      ["s1", "timed-out"],
      ["s2", "noop"],
    ] as const) {
      const res = await as(`/v1/installs/ins1/action-workflow-runs/awr2/steps/${step}`, {
        method: "PUT",
        body: { status, execution_duration: 0 },
      });
      expect(res.status).toBe(200);
    }
    expect(cp.admin.getJob(job.id)?.executions[0]?.steps?.map((s) => `${s.step_id}:${s.status}`)).toEqual([
      "s1:timed-out",
      "s2:noop",
    ]);
  });
});
