/** The client against the embedded control plane, over real loopback sockets. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ControlPlaneClient, createControlPlaneClient } from "../../src/control-plane/client.ts";
import { ControlPlaneError, isUnrecoverable } from "../../src/control-plane/errors.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";

describe("the client against the embedded control plane", () => {
  let cp: EmbeddedControlPlane;
  const clients: ControlPlaneClient[] = [];
  const clientFor = (runner: { id: string; token: string }) => {
    const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    cp = await startControlPlane();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await cp.close();
  });

  it("reads settings with the heartbeat interval in nanoseconds", async () => {
    const client = clientFor(cp.admin.createRunner());
    const settings = await client.getSettings();
    expect(settings.heart_beat_timeout).toBe(5_000_000_000);
  });

  it("lets exactly one of two racing clients claim a job; the other sees CLAIM_LOST", async () => {
    const runner = cp.admin.createRunner();
    const a = clientFor(runner);
    const b = clientFor(runner);
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const outcomes = await Promise.allSettled([a.createExecution(job.id), b.createExecution(job.id)]);
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(ControlPlaneError);
    expect((lost[0]!.reason as ControlPlaneError).code).toBe("CLAIM_LOST");
    expect(cp.admin.getJob(job.id)!.executions).toHaveLength(1);
  });

  it("wakes a long-poll as soon as a job becomes available", async () => {
    const runner = cp.admin.createRunner();
    const client = clientFor(runner);
    const started = performance.now();
    const tail = client.tailJobs("operations", 5_000);
    setTimeout(() => cp.admin.enqueueJob(runner.id, { type: "noop" }), 100);
    const result = await tail;
    expect(result.supported && result.jobs.map((j) => j.type)).toEqual(["noop"]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("reports a wrong token as unrecoverable without retrying", async () => {
    const runner = cp.admin.createRunner();
    const client = clientFor({ id: runner.id, token: "not-the-token" });
    const err = await client.getSettings().catch((e: unknown) => e);
    expect(isUnrecoverable(err)).toBe(true);
    expect(cp.stats().requests.GetRunnerSettings).toBe(1);
  });

  it("posts a compressed result the control plane stores", async () => {
    const runner = cp.admin.createRunner();
    const client = clientFor(runner);
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execution = await client.createExecution(job.id);
    await client.createResult(job.id, execution.id, { success: true, contents: "tfplan-bytes" });
    await client.updateExecutionStatus(job.id, execution.id, "finished");
    const detail = await cp.waitForJob(job.id, (j) => j.status === "finished");
    expect(detail.executions[0]!.result?.success).toBe(true);
    expect(detail.executions[0]!.result?.contents_compressed).toMatch(/^[A-Za-z0-9_-]+=*$/);
  });
});
