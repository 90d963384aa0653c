/**
 * Three runner processes race for 200 noop jobs on one runner id: every job runs exactly once (one
 * execution each, all finished), whether it was listed, long-polled or lost in a claim race.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { startRunner, stopAllRunners } from "../support/runner-process.ts";
import { controlPlaneWithRunner, removeDirs, tempDir } from "./support/control-plane.ts";

const planes: EmbeddedControlPlane[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await stopAllRunners();
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
});

describe("three runners, one queue", () => {
  it("runs each of 200 noop jobs exactly once", { timeout: 60_000 }, async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const envs: Array<Record<string, string>> = [
      { RUNNER_CONCURRENCY: "1" },
      { RUNNER_CONCURRENCY: "2" },
      { RUNNER_CONCURRENCY: "2", RUNNER_LONG_POLL: "false", RUNNER_JOB_ORDER: "newest" },
    ];
    const jobIds: string[] = [];
    for (let i = 0; i < 100; i++) jobIds.push(cp.admin.enqueueJob(runner.id, { type: "noop" }).id);
    const children = [];
    for (const env of envs) {
      const stateDir = await tempDir("runner-state-");
      dirs.push(stateDir);
      children.push(
        startRunner({
          apiUrl: cp.url,
          token: runner.token,
          runnerId: runner.id,
          stateDir,
          env: { ...env, LOG_LEVEL: "info" },
        }),
      );
    }
    await Promise.all(children.map((c) => c.waitForLog((l) => l.msg === "runner started", 15_000)));
    for (let i = 0; i < 100; i++) jobIds.push(cp.admin.enqueueJob(runner.id, { type: "noop" }).id);

    const details = await Promise.all(
      jobIds.map((id) => cp.waitForJob(id, (j) => j.status === "finished", 45_000)),
    );
    for (const job of details) {
      expect(job.executions, job.id).toHaveLength(1);
      expect(job.executions[0]?.status).toBe("finished");
      expect(job.executions[0]?.result?.success).toBe(true);
    }
    expect(cp.stats().requests.CreateRunnerJobExecution ?? 0).toBeGreaterThanOrEqual(200);

    for (const child of children) child.signal("SIGTERM");
    const exits = await Promise.all(children.map((c) => c.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
    const claimedBy = children.map((c) => c.lines.filter((l) => l.msg === "job claimed").length);
    expect(claimedBy.reduce((a, b) => a + b, 0)).toBe(200);
    // every runner took part
    for (const n of claimedBy) expect(n).toBeGreaterThan(0);
  });
});
