import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { STATE_FILE_NAME } from "../../src/mock-control-plane/persistence.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";
import { encodeLogsRequest } from "../../src/otlp/logs-proto.ts";
import { call, claim, setStatus } from "./helpers.ts";

let cp: EmbeddedControlPlane | undefined;
let dir: string | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("persistence", () => {
  it("serves the same runners, jobs, executions, logs, state and locks after a restart on the same port", async () => {
    dir = await mkdtemp(join(tmpdir(), "cp-state-"));
    cp = await startControlPlane({ stateDir: dir });
    const { port, adminToken } = cp;
    const runner = cp.admin.createRunner({ settings: { logging_level: "DEBUG" } });
    const running = cp.admin.enqueueJob(runner.id, { type: "terraform-deploy", plan: { p: 1 } });
    const waiting = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execId = await claim(cp, runner.token, running.id);
    await setStatus(cp, runner.token, running.id, execId, "in-progress");
    const as = (path: string, init: Parameters<typeof call>[1] = {}) =>
      call(`http://127.0.0.1:${port}${path}`, { token: runner.token, ...init });
    await as(`/v1/log-streams/${running.log_stream_id}/logs`, {
      body: encodeLogsRequest({
        resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: "before restart" } }] }] }],
      }),
      headers: { "content-type": "application/x-protobuf" },
    });
    await as("/v1/terraform-backend?workspace_id=tfw1", { body: { serial: 3 } });
    await as("/v1/terraform-workspaces/tfw1/lock", { body: { ID: "lock-1" } });
    await cp.close();
    cp = undefined;
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, STATE_FILE_NAME), "utf8"))).toMatchObject({ version: 1 });

    cp = await startControlPlane({ stateDir: dir, port });
    expect(cp.adminToken).toBe(adminToken);
    expect((await as(`/v1/runners/${runner.id}/settings`)).json).toMatchObject({ logging_level: "DEBUG" });
    const job = await as(`/v1/runner-jobs/${running.id}`);
    expect(job.json).toMatchObject({
      status: "in-progress",
      executions: [{ id: execId, status: "in-progress" }],
    });
    const list = await as(`/v1/runners/${runner.id}/jobs`);
    expect((list.json as { id: string }[]).map((j) => j.id)).toEqual([waiting.id]);
    expect(cp.admin.getJob(running.id)?.logs.map((r) => r.body)).toEqual(["before restart"]);
    expect(JSON.parse((await as("/v1/terraform-backend?workspace_id=tfw1")).text)).toEqual({ serial: 3 });
    expect((await as("/v1/terraform-workspaces/tfw1/lock", { body: { ID: "lock-2" } })).status).toBe(409);

    // The job carries on where it stopped.
    await setStatus(cp, runner.token, running.id, execId, "finished");
    expect(cp.admin.getJob(running.id)?.status).toBe("finished");
    const newJob = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const after = await as(`/v1/runners/${runner.id}/jobs`);
    expect((after.json as { id: string }[]).map((j) => j.id)).toEqual([newJob.id, waiting.id]);
  });

  it("keeps state in memory only when no state dir is given", async () => {
    cp = await startControlPlane();
    const runner = cp.admin.createRunner();
    const port = cp.port;
    await cp.close();
    cp = await startControlPlane({ port });
    const res = await call(`${cp.url}/v1/runners/${runner.id}`, { token: runner.token });
    expect(res.status).toBe(401);
  });
});
