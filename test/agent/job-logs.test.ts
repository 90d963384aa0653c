/**
 * The runner as a child process ships each job's output to the job's log stream at the control plane: redacted,
 * with the job, execution and step attributes, before the terminal status.
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

describe("job logs from a runner process", () => {
  it("reach the job's log stream, redacted and attributed, before the job is finished", async () => {
    const ctx = await controlPlaneWithRunner();
    planes.push(ctx.cp);
    const stateDir = await tempDir("runner-logs-");
    dirs.push(stateDir);
    const child = startRunner({
      apiUrl: ctx.cp.url,
      token: ctx.runner.token,
      runnerId: ctx.runner.id,
      stateDir,
    });
    await child.waitForLog((l) => l.msg === "runner started", 15_000);

    const secret = "s3cr3t-value-for-the-log-test";
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, {
      type: "actions-workflow",
      plan: {
        id: "awr-logs",
        install_id: "inst-logs",
        builtin_env_vars: { DEPLOY_TOKEN: secret },
        steps: [
          {
            run_id: "say",
            name: "say",
            interpolated_inline_contents:
              '#!/bin/bash\necho "hello from the job"\necho "token is $DEPLOY_TOKEN"\n',
          },
        ],
      },
    });
    const done = await ctx.cp.waitForJob(job.id, (j) => j.status === "finished", 20_000);
    // Logs are flushed before the terminal status, so they are all there once the job is finished.
    const bodies = done.logs.map((r) => String(r.body));
    expect(bodies).toContain("hello from the job");
    expect(bodies).toContain("token is [REDACTED]");
    expect(JSON.stringify(done.logs)).not.toContain(secret);
    const hello = done.logs.find((r) => r.body === "hello from the job")!;
    expect(hello.attributes["runner_job.id"]).toBe(job.id);
    expect(hello.attributes["runner_job_execution.id"]).toBe(done.executions[0]!.id);
    expect(hello.attributes["runner_job_execution_step.name"]).toBe("execute");
    expect(hello.resource["runner.id"]).toBe(ctx.runner.id);
    expect(hello.resource["service.name"]).toBe("runner");
    const seqs = done.logs.map((r) => Number(r.attributes["runner.log.seq"]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});
