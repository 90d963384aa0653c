/**
 * Restart safety and outages, with real processes: a runner killed with SIGKILL mid-job never runs that
 * execution again and its successor reports it failed with the restart reason; a control plane that goes
 * away mid-job still gets the final status once it is back.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readJournal } from "../../src/agent/journal.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";
import { startRunner, stopAllRunners } from "../support/runner-process.ts";
import { controlPlaneWithRunner, recordStatuses, removeDirs, tempDir } from "./support/control-plane.ts";

/** How long the control plane stays away mid-job: 30 s; `RUNNER_TEST_OUTAGE_MS=3000` shortens it locally. */
const OUTAGE_MS = Number(process.env.RUNNER_TEST_OUTAGE_MS ?? 30_000);

const planes: EmbeddedControlPlane[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await stopAllRunners();
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
});

describe("restart safety", () => {
  it("reports an execution held by a SIGKILLed runner as failed at restart and never runs it again", async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const stateDir = await tempDir("runner-state-");
    dirs.push(stateDir);
    const first = startRunner({ apiUrl: cp.url, token: runner.token, runnerId: runner.id, stateDir });
    await first.waitForLog((l) => l.msg === "runner started", 15_000);
    const job = cp.admin.enqueueJob(runner.id, {
      type: "noop",
      plan: { sleep_ms: 60_000 },
      max_executions: 2,
    });
    await first.waitForLog((l) => l.msg === "noop job sleeping");
    const held = await readJournal(join(stateDir, "journal"));
    const executionId = cp.admin.getJob(job.id)?.executions[0]?.id;
    expect(held).toMatchObject([{ jobId: job.id, executionId, pid: first.pid }]);

    first.signal("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(cp.admin.getJob(job.id)?.executions[0]?.status).toBe("in-progress");

    const second = startRunner({ apiUrl: cp.url, token: runner.token, runnerId: runner.id, stateDir });
    const done = await cp.waitForJob(job.id, (j) => j.status === "failed", 15_000);
    expect(done.executions).toHaveLength(1);
    expect(done.executions[0]).toMatchObject({ id: executionId, status: "failed" });
    expect(done.executions[0]?.result).toMatchObject({
      success: false,
      error_metadata: { step: "restart", message: "the runner restarted while this execution was running" },
    });
    await second.waitForLog((l) => l.msg === "runner started");
    expect(second.lines.some((l) => l.msg === "job claimed")).toBe(false);
    // the journal is empty again once the report was acknowledged
    await second.waitForLog((l) => String(l.msg).startsWith("found an execution a previous process"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await readJournal(join(stateDir, "journal"))).toEqual([]);
  });

  it("delivers the final status once a control plane that went away mid-job is back", {
    timeout: OUTAGE_MS + 40_000,
  }, async () => {
    const cpState = await tempDir("cp-state-");
    dirs.push(cpState);
    const cp = await startControlPlane({ stateDir: cpState });
    const runner = cp.admin.createRunner({ settings: { heart_beat_timeout: 300e6 } });
    const stateDir = await tempDir("runner-state-");
    dirs.push(stateDir);
    const child = startRunner({ apiUrl: cp.url, token: runner.token, runnerId: runner.id, stateDir });
    await child.waitForLog((l) => l.msg === "runner started", 15_000);
    const job = cp.admin.enqueueJob(runner.id, { type: "noop", plan: { sleep_ms: 1_000 } });
    await child.waitForLog((l) => l.msg === "noop job sleeping");
    await cp.close();
    const downAt = performance.now();
    // the job finishes while the control plane is down; the runner keeps trying to report it
    await child.waitForLog(
      (l) => l.msg === "could not deliver the result; retrying until it arrives",
      10_000,
    );
    const left = OUTAGE_MS - (performance.now() - downAt);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));

    const back = await startControlPlane({ stateDir: cpState, port: cp.port });
    planes.push(back);
    const statuses = recordStatuses(back);
    const done = await back.waitForJob(job.id, (j) => j.status === "finished", 20_000);
    expect(done.executions).toHaveLength(1);
    expect(done.executions[0]?.status).toBe("finished");
    expect(done.executions[0]?.result?.success).toBe(true);
    expect([...statuses.values()].flat().at(-1)).toBe("finished");
    expect(child.child.exitCode).toBeNull();

    // the loops recovered too: a new job runs
    const next = back.admin.enqueueJob(runner.id, { type: "noop" });
    await back.waitForJob(next.id, (j) => j.status === "finished", 20_000);
  });
});
