/**
 * The actions-workflow handler end to end: real bash steps, the real step pipeline (runJob), the embedded
 * control plane over loopback recording step PUTs and outputs, and a real git http-backend for git sources.
 */
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlaneClient, createControlPlaneClient } from "../../../src/control-plane/client.ts";
import { createActionsWorkflowHandler } from "../../../src/jobs/actions/handler.ts";
import type { AbortReason, JobLog, RunnerState } from "../../../src/jobs/handler.ts";
import { HANDLERS } from "../../../src/jobs/registry.ts";
import { type JobOutcome, runJob } from "../../../src/jobs/run-job.ts";
import {
  type EmbeddedControlPlane,
  type JobDetail,
  type StepUpdate,
  startControlPlane,
} from "../../../src/mock-control-plane/server.ts";
import { createWorkspace } from "../../../src/workspace/workspace.ts";
import { type GitServer, git, publish, startGitServer } from "../../support/git-server.ts";

const runnerState: RunnerState = {
  processType: "",
  startedAtMs: 0,
  jobLoops: () => ({}),
  requestExit: () => undefined,
};

let cp: EmbeddedControlPlane;
let runner: { id: string; token: string };
let client: ControlPlaneClient;
let root: string;
let gitServer: GitServer;
let repoCommit: string;
let jobs = 0;

beforeAll(async () => {
  cp = await startControlPlane();
  runner = cp.admin.createRunner();
  client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
  root = await mkdtemp(path.join(tmpdir(), "actions-handler-test-"));

  const served = path.join(root, "served");
  const work = path.join(root, "work");
  await mkdir(served);
  await mkdir(path.join(work, "actions", "scripts"), { recursive: true });
  await git(work, "init", "--quiet", "--initial-branch=main");
  const script = path.join(work, "actions", "scripts", "report.sh");
  await writeFile(
    script,
    '#!/bin/bash\necho "running in $(basename "$PWD") with $1"\necho "FROM_REPO=$1" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"\n',
  );
  await chmod(script, 0o755);
  await git(work, "add", ".");
  await git(work, "commit", "--quiet", "-m", "scripts");
  repoCommit = await git(work, "rev-parse", "HEAD");
  await publish(work, served, "scripts");
  gitServer = await startGitServer({ root: served });
});

afterAll(async () => {
  await client?.close();
  await cp?.close();
  await gitServer?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

function recordingLog() {
  const entries: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    entries.push(`${level}: ${msg}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}`);
  };
  const log: JobLog = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line: (text, stream) => entries.push(`${stream}: ${text}`),
  };
  return { log, entries, text: () => entries.join("\n") };
}

interface Ran {
  outcome: JobOutcome;
  detail: JobDetail;
  steps: StepUpdate[];
  log: ReturnType<typeof recordingLog>;
  workspaceDir: string;
}

async function runWorkflow(
  plan: unknown,
  opts: { signal?: AbortSignal; executionTimeoutNs?: number } = {},
): Promise<Ran> {
  const job = cp.admin.enqueueJob(runner.id, {
    type: "actions-workflow",
    plan,
    ...(opts.executionTimeoutNs === undefined ? {} : { execution_timeout: opts.executionTimeoutNs }),
  });
  const execution = await client.createExecution(job.id);
  jobs += 1;
  const workspace = await createWorkspace({
    root: path.join(root, "ws"),
    jobId: `job${jobs}`,
    executionId: "exec",
    keep: true,
  });
  const log = recordingLog();
  const outcome = await runJob({
    job,
    execution,
    handlerFactory: () => createActionsWorkflowHandler({ processEnv: { PATH: process.env.PATH } }),
    client,
    log: log.log,
    runnerState,
    killGraceMs: 300,
    abortSettleMs: 5_000,
    workspaceDir: workspace.dir,
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const detail = cp.admin.getJob(job.id)!;
  // Deliver the outcome as the agent would, so the next job is the only one running.
  await client.updateExecutionStatus(job.id, execution.id, outcome.status);
  await client.createResult(job.id, execution.id, outcome.result);
  return { outcome, detail, steps: detail.executions.at(-1)?.steps ?? [], log, workspaceDir: workspace.dir };
}

/** Step PUTs as `<step id>:<status>`. */
function statuses(steps: StepUpdate[]): string[] {
  return steps.map((s) => `${s.step_id}:${s.status}`);
}

/** Distinct workflow run ids: the control plane matches step PUTs to the running job whose plan names them. */
let runs = 0;
function base() {
  runs += 1;
  return { id: `wfr-${runs}`, install_id: "inst-1" };
}

describe("actions-workflow handler", () => {
  it("is registered for the actions-workflow job type", async () => {
    expect((await HANDLERS["actions-workflow"]()).name).toBe("actions-workflow");
  });

  it("runs an inline script and a command, layers env, merges outputs in both formats and reports each step", async () => {
    const ran = await runWorkflow({
      ...base(),
      builtin_env_vars: { LAYER: "builtin", ONLY_BUILTIN: "b" },
      override_env_vars: { OVERRIDDEN: "override" },
      steps: [
        {
          run_id: "step-a",
          name: "prepare",
          interpolated_env_vars: { LAYER: "step", OVERRIDDEN: "step" },
          interpolated_inline_contents: [
            'echo "hello from $(basename "$0")"',
            'echo "LAYER=$LAYER" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"',
            'echo "OVERRIDDEN=$OVERRIDDEN" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"',
            'echo "ONLY_BUILTIN=$ONLY_BUILTIN" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"',
            'echo "ROOT_OK=$([ "$NUON_ACTIONS_ROOT" = "$PWD" ] && echo yes)" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"',
            'echo "KUBE=$NUON_KUBECONFIG_ENABLED" >> "$NUON_ACTIONS_OUTPUT_FILEPATH"',
          ].join("\n"),
        },
        {
          run_id: "step-b",
          attrs: { name: "emit-json" },
          interpolated_command: `bash -c 'printf "{\\n  \\"shape\\": {\\"n\\": 2},\\n  \\"LAYER\\": \\"json\\"\\n}\\n" > "$NUON_ACTIONS_OUTPUT_FILEPATH"; echo "args: $0 $1"' "quoted arg" $NOT_EXPANDED`,
        },
      ],
    });
    expect(ran.outcome.status).toBe("finished");
    expect(ran.detail.executions.at(-1)?.outputs).toEqual({
      LAYER: "json",
      OVERRIDDEN: "override",
      ONLY_BUILTIN: "b",
      ROOT_OK: "yes",
      KUBE: "false",
      shape: { n: 2 },
      steps: {
        prepare: { LAYER: "step", OVERRIDDEN: "override", ONLY_BUILTIN: "b", ROOT_OK: "yes", KUBE: "false" },
        "emit-json": { shape: { n: 2 }, LAYER: "json" },
      },
    });
    expect(statuses(ran.steps)).toEqual([
      "step-a:in-progress",
      "step-a:finished",
      "step-b:in-progress",
      "step-b:finished",
    ]);
    for (const update of ran.steps) {
      expect(update).toMatchObject({
        install_id: "inst-1",
        workflow_run_id: (ran.detail.plan as { id: string }).id,
      });
      expect(typeof update.execution_duration).toBe("number");
    }
    expect(ran.steps[1]!.execution_duration).toBeGreaterThan(0);
    expect(ran.log.text()).toContain("stdout: hello from .inline-contents-step-0");
    // The command was split without a shell: `$NOT_EXPANDED` reached bash -c as a literal argument.
    expect(ran.log.text()).toContain("stdout: args: quoted arg $NOT_EXPANDED");
  });

  it("fails the job on a step that exits 3, naming it, and reports the later steps as noop without running them", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [
        { run_id: "s1", name: "ok", interpolated_command: "true" },
        { run_id: "s2", name: "breaks", interpolated_inline_contents: "echo about to fail >&2\nexit 3\n" },
        { run_id: "s3", name: "never", interpolated_inline_contents: 'touch "$NUON_ACTIONS_ROOT/ran-s3"\n' },
      ],
    });
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.step).toBe("execute");
    expect(ran.outcome.message).toContain('action step "breaks" (2 of 3)');
    expect(ran.outcome.message).toContain("exited with code 3");
    expect(statuses(ran.steps)).toEqual([
      "s1:in-progress",
      "s1:finished",
      "s2:in-progress",
      "s2:error",
      "s3:noop",
    ]);
    await expect(access(path.join(ran.workspaceDir, "ran-s3"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(ran.log.text()).toContain("stderr: about to fail");
  });

  it("stops a step at its own timeout and reports it timed-out", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [
        { run_id: "slow", name: "slow", interpolated_command: "sleep 30", timeout: 300_000_000 },
        { run_id: "after", name: "after", interpolated_command: "true" },
      ],
    });
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toContain('action step "slow" (1 of 2) timed out after 300 ms');
    expect(statuses(ran.steps)).toEqual(["slow:in-progress", "slow:timed-out", "after:noop"]);
    const duration = ran.steps[1]!.execution_duration!;
    expect(duration).toBeGreaterThanOrEqual(300_000_000);
    expect(duration).toBeLessThan(10_000_000_000);
  });

  it("runs a step from a git source, in the source's path", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [
        {
          run_id: "from-git",
          name: "from-git",
          git_source: { url: gitServer.repoUrl("scripts"), ref: "main", path: "actions" },
          interpolated_command: './scripts/report.sh "some value"',
        },
      ],
    });
    expect(ran.outcome.status).toBe("finished");
    expect(ran.log.text()).toContain("stdout: running in actions with some value");
    expect(ran.detail.executions.at(-1)?.outputs).toMatchObject({
      steps: { "from-git": { FROM_REPO: "some value" } },
    });
    expect(ran.log.text()).toContain(repoCommit);
  });

  it("fails a step whose git source cannot be fetched, naming the step and the ref", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [
        {
          run_id: "bad-src",
          name: "bad-src",
          git_source: { url: gitServer.repoUrl("scripts"), ref: "no-such-ref" },
          interpolated_command: "true",
        },
      ],
    });
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toContain('action step "bad-src"');
    expect(ran.outcome.message).toContain('"no-such-ref"');
    expect(statuses(ran.steps)).toEqual(["bad-src:in-progress", "bad-src:error"]);
  });

  it("keeps values of secret-named variables out of the logs", async () => {
    const secret = "hunter2-very-secret";
    const token = "tok-0123456789abcdef";
    const ran = await runWorkflow({
      ...base(),
      override_env_vars: { API_TOKEN: token },
      steps: [
        {
          run_id: "leaky",
          name: "leaky",
          interpolated_env_vars: { DB_PASSWORD: secret },
          interpolated_inline_contents: 'echo "password is $DB_PASSWORD"\necho "token=$API_TOKEN" >&2\n',
        },
      ],
    });
    expect(ran.outcome.status).toBe("finished");
    const text = ran.log.text();
    expect(text).toContain("stdout: password is [REDACTED]");
    expect(text).toContain("stderr: token=[REDACTED]");
    expect(text).not.toContain(secret);
    expect(text).not.toContain(token);
  });

  it("refuses a command with shell operators, saying commands are not run through a shell", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [{ run_id: "piped", name: "piped", interpolated_command: "echo a | grep a" }],
    });
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toContain("not run through a shell");
    expect(statuses(ran.steps)).toEqual(["piped:in-progress", "piped:error"]);
  });

  it("fails a step whose outputs file is invalid", async () => {
    const ran = await runWorkflow({
      ...base(),
      steps: [
        {
          run_id: "bad-out",
          interpolated_inline_contents: 'echo "not an output" > "$NUON_ACTIONS_OUTPUT_FILEPATH"',
        },
      ],
    });
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toContain('action step "0" (1 of 1) wrote invalid outputs: line 1');
  });

  it("on cancel stops the running step, reports it cancelled and the rest noop", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = runWorkflow(
      {
        ...base(),
        steps: [
          { run_id: "long", name: "long", interpolated_command: "sleep 30" },
          { run_id: "later", name: "later", interpolated_command: "true" },
        ],
      },
      { signal: controller.signal },
    );
    // Cancel once the step reported in-progress.
    await cp.waitForJob(
      (await waitForJobId()) ?? "",
      (d) => (d.executions.at(-1)?.steps ?? []).some((s) => s.step_id === "long"),
      5_000,
    );
    controller.abort({
      kind: "cancelled",
      message: "the control plane cancelled the job",
    } satisfies AbortReason);
    const ran = await running;
    expect(ran.outcome.status).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(10_000);
    // The pipeline returns once the step settled; the noop PUT follows right after.
    const detail = await cp.waitForJob(
      ran.detail.id,
      (d) => (d.executions.at(-1)?.steps ?? []).length >= 3,
      5_000,
    );
    expect(statuses(detail.executions.at(-1)?.steps ?? [])).toEqual([
      "long:in-progress",
      "long:cancelled",
      "later:noop",
    ]);
  });

  it("when the job's execution timeout passes, reports the running step timed-out and the rest noop", async () => {
    const ran = await runWorkflow(
      {
        ...base(),
        steps: [
          { run_id: "t1", name: "t1", interpolated_command: "sleep 30" },
          { run_id: "t2", name: "t2", interpolated_command: "true" },
        ],
      },
      { executionTimeoutNs: 400_000_000 },
    );
    expect(ran.outcome.status).toBe("timed-out");
    // The pipeline returns once the step settled; the remaining PUTs follow right after.
    const detail = await cp.waitForJob(
      ran.detail.id,
      (d) => (d.executions.at(-1)?.steps ?? []).length >= 3,
      5_000,
    );
    expect(statuses(detail.executions.at(-1)?.steps ?? [])).toEqual([
      "t1:in-progress",
      "t1:timed-out",
      "t2:noop",
    ]);
  });

  it("in sandbox mode reports every step finished with 5 s and posts the sandbox outputs", async () => {
    const ran = await runWorkflow({
      ...base(),
      sandbox_mode: { enabled: true, outputs: { fake: "yes" } },
      steps: [
        { run_id: "x", name: "x", interpolated_command: "false" },
        { run_id: "y", name: "y", interpolated_command: "false" },
      ],
    });
    expect(ran.outcome.status).toBe("finished");
    expect(statuses(ran.steps)).toEqual(["x:finished", "y:finished"]);
    expect(ran.steps.map((s) => s.execution_duration)).toEqual([5_000_000_000, 5_000_000_000]);
    expect(ran.detail.executions.at(-1)?.outputs).toEqual({
      fake: "yes",
      steps: { x: { fake: "yes" }, y: { fake: "yes" } },
    });
  });
});

/** The id of the newest actions job of the runner (the one just enqueued). */
async function waitForJobId(): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    const newest = cp.admin.listJobs(runner.id)[0];
    if (newest !== undefined) return newest.id;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}
