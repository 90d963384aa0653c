/**
 * The terraform handler end to end: the REAL terraform binary (offline: terraform_data + local-exec), the
 * embedded control plane over loopback (its http backend keeps the state and the lock), and the real step
 * pipeline (runJob).
 */
import { cp as copyDir, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneApi } from "../../../src/control-plane/api.ts";
import { type ControlPlaneClient, createControlPlaneClient } from "../../../src/control-plane/client.ts";
import { decompress } from "../../../src/control-plane/compress.ts";
import type { AbortReason, JobLog, RunnerState } from "../../../src/jobs/handler.ts";
import { type JobOutcome, runJob } from "../../../src/jobs/run-job.ts";
import { createTerraformHandler, type TerraformHandlerOptions } from "../../../src/jobs/terraform/handler.ts";
import {
  type EmbeddedControlPlane,
  type JobDetail,
  startControlPlane,
} from "../../../src/mock-control-plane/server.ts";
import { createWorkspace } from "../../../src/workspace/workspace.ts";
import { type GitServer, git, publish, startGitServer } from "../../support/git-server.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/terraform");
const SENSITIVE_OUTPUT = "sk-fixture-7c1d9e44b2a0";

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
let cliConfigFile: string;

beforeAll(async () => {
  cp = await startControlPlane();
  runner = cp.admin.createRunner();
  client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
  root = await mkdtemp(path.join(tmpdir(), "terraform-handler-test-"));
  cliConfigFile = path.join(root, "cli.tfrc");
  await writeFile(cliConfigFile, "");
});

afterAll(async () => {
  await client?.close();
  await cp?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** A JobLog keeping every entry, with a hook to watch lines as they come. */
function recordingLog(onEntry?: (text: string) => void) {
  const entries: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      entries.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
      onEntry?.(msg);
    };
  const log: JobLog = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line: (text, stream) => at(stream)(text),
  };
  const text = () => entries.map((e) => `${e.level}: ${e.msg} ${JSON.stringify(e.fields ?? {})}`).join("\n");
  return { log, entries, text, messages: () => entries.map((e) => e.msg) };
}

/** The real client, with the terraform workspace calls recorded. */
function recordingClient(calls: string[]): ControlPlaneApi {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== "pushStateJson" && prop !== "unlockWorkspace") return value;
      return (...args: unknown[]) => {
        calls.push(prop);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

interface RunInput {
  type?: "terraform-deploy" | "sandbox-terraform";
  operation: string;
  plan: unknown;
  signal?: AbortSignal;
  onLog?: (text: string) => void;
  handler?: Partial<TerraformHandlerOptions>;
}

interface RunOutput {
  outcome: JobOutcome;
  detail: JobDetail;
  log: ReturnType<typeof recordingLog>;
  calls: string[];
}

async function runTerraformJob(input: RunInput): Promise<RunOutput> {
  const type = input.type ?? "terraform-deploy";
  const job = cp.admin.enqueueJob(runner.id, { type, operation: input.operation, plan: input.plan });
  const execution = await client.createExecution(job.id);
  const workspace = await createWorkspace({
    root: path.join(root, "ws"),
    jobId: job.id,
    executionId: execution.id,
  });
  const log = recordingLog(input.onLog);
  const calls: string[] = [];
  try {
    const outcome = await runJob({
      job,
      execution,
      handlerFactory: () =>
        createTerraformHandler({
          variant: type === "terraform-deploy" ? "deploy" : "sandbox",
          apiToken: runner.token,
          processEnv: { ...process.env, TF_CLI_CONFIG_FILE: cliConfigFile },
          ...input.handler,
        }),
      client: recordingClient(calls),
      log: log.log,
      runnerState,
      killGraceMs: 3_000,
      workspaceDir: workspace.dir,
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    });
    await client.createResult(job.id, execution.id, outcome.result);
    const detail = cp.admin.getJob(job.id);
    if (detail === undefined) throw new Error(`job ${job.id} vanished from the control plane`);
    return { outcome, detail, log, calls };
  } finally {
    await workspace.cleanup();
  }
}

function deployPlan(
  module: string,
  terraform: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    install_id: "inst-1",
    component_name: module,
    local_dir: path.join(FIXTURES, module),
    terraform: { vars: {}, env_vars: {}, vars_files: [], ...terraform },
    ...extra,
  };
}

/** The state in the control plane's http backend, or undefined when it has none. */
async function backendState(
  workspaceId: string,
): Promise<{ resources: Array<Record<string, unknown>> } | undefined> {
  const url = `${cp.url}/v1/terraform-backend?workspace_id=${encodeURIComponent(workspaceId)}`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${runner.token}` } });
  if (response.status === 204) return undefined;
  expect(response.status).toBe(200);
  return (await response.json()) as { resources: Array<Record<string, unknown>> };
}

/** Whether nobody holds the workspace lock: a probe lock is granted (and given back). */
async function lockIsFree(workspaceId: string): Promise<boolean> {
  try {
    await client.lockWorkspace({ workspaceId }, { ID: "probe-lock", Operation: "probe" });
  } catch {
    return false;
  }
  await client.unlockWorkspace({ workspaceId });
  return true;
}

function resultOf(detail: JobDetail) {
  const result = detail.executions.at(-1)?.result;
  if (result === undefined) throw new Error("no result was posted");
  return result;
}

describe("terraform handler with the control plane's http backend", () => {
  it("saves a plan, applies exactly that plan, posts outputs and state, then tears down", async () => {
    const workspaceId = "ws-lifecycle";
    const backend = { terraform_backend: { WorkspaceID: workspaceId } };

    // 1. create-apply-plan: the result is the tfplan and its JSON display; nothing is applied yet.
    const planned = await runTerraformJob({
      operation: "create-apply-plan",
      plan: deployPlan("basic", { vars: { greeting: "planned" }, ...backend }),
    });
    expect(planned.outcome).toMatchObject({ status: "finished" });
    const planResult = resultOf(planned.detail);
    const tfplan = decompress(planResult.contents_compressed ?? "");
    expect(tfplan.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    const display = JSON.parse(decompress(planResult.contents_display_compressed ?? "").toString("utf8"));
    expect(display.format_version).toBeDefined();
    expect(display.resource_changes.map((c: { address: string }) => c.address)).toEqual([
      "terraform_data.greeting",
    ]);
    expect(planned.log.messages()).toContain("will create terraform_data.greeting");
    expect(await backendState(workspaceId)).toBeUndefined();
    expect(await lockIsFree(workspaceId)).toBe(true);

    // 2. apply-plan with a different var: the saved plan's value wins.
    const applied = await runTerraformJob({
      operation: "apply-plan",
      plan: deployPlan(
        "basic",
        { vars: { greeting: "changed" }, ...backend },
        {
          apply_plan_contents: planResult.contents_compressed,
        },
      ),
    });
    expect(applied.outcome).toMatchObject({ status: "finished" });
    const outputs = applied.detail.executions.at(-1)?.outputs;
    expect(outputs).toEqual({ greeting: "planned-none", api_key: SENSITIVE_OUTPUT });
    expect(applied.log.messages()).toContain("creating terraform_data.greeting");
    expect(applied.log.messages()).toContain("created terraform_data.greeting");
    expect(applied.log.text()).not.toContain(SENSITIVE_OUTPUT);
    expect(applied.log.text()).not.toContain(runner.token);
    expect(applied.calls).toContain("pushStateJson");
    const state = await backendState(workspaceId);
    expect(state?.resources.map((r) => r.name)).toEqual(["greeting"]);
    expect(await lockIsFree(workspaceId)).toBe(true);

    // 3. create-teardown-plan, then apply-plan with Nuon's std-base64 form of the contents.
    const teardown = await runTerraformJob({
      operation: "create-teardown-plan",
      plan: deployPlan("basic", backend),
    });
    expect(teardown.outcome).toMatchObject({ status: "finished" });
    expect(teardown.log.messages()).toContain("will delete terraform_data.greeting");
    const destroyPlan = decompress(resultOf(teardown.detail).contents_compressed ?? "").toString("base64");
    const destroyed = await runTerraformJob({
      operation: "apply-plan",
      plan: deployPlan("basic", backend, { apply_plan_contents: destroyPlan }),
    });
    expect(destroyed.outcome).toMatchObject({ status: "finished" });
    expect(destroyed.log.messages()).toContain("destroyed terraform_data.greeting");
    expect((await backendState(workspaceId))?.resources).toEqual([]);
    expect(await lockIsFree(workspaceId)).toBe(true);
    expect(cp.stats().requests.UpdateTerraformStateJSON).toBeGreaterThanOrEqual(2);
  });

  it("names the resource when a local-exec fails, still pushes the state, and leaves the lock free", async () => {
    const { outcome, calls } = await runTerraformJob({
      operation: "exec",
      plan: deployPlan("exec-fails", { terraform_backend: { WorkspaceID: "ws-broken" } }),
    });
    expect(outcome).toMatchObject({ status: "failed", step: "execute" });
    expect(outcome.message).toMatch(
      /^terraform apply failed: terraform_data\.broken: local-exec provisioner error/,
    );
    expect(outcome.message).toContain("exit status 3");
    expect(calls).toContain("pushStateJson");
    expect(await lockIsFree("ws-broken")).toBe(true);
  });

  it("interrupts terraform with SIGINT on cancel, then pushes the state and releases the lock, quickly", async () => {
    const workspaceId = "ws-cancel";
    const controller = new AbortController();
    let abortedAt = 0;
    const run = runTerraformJob({
      type: "sandbox-terraform",
      operation: "exec",
      plan: { local_dir: path.join(FIXTURES, "slow"), terraform_backend: { WorkspaceID: workspaceId } },
      signal: controller.signal,
      onLog: (text) => {
        if (text.includes("started sleeping") && abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort({ kind: "cancelled", message: "the job was cancelled" } satisfies AbortReason);
        }
      },
    });
    const { outcome, log, calls } = await run;
    const tookMs = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(outcome).toMatchObject({ status: "cancelled" });
    expect(tookMs).toBeLessThan(5_000);
    expect(log.messages()).toContain(
      "Interrupt received. Please wait for Terraform to exit or data loss may occur. Gracefully shutting down...",
    );
    // One SIGINT only: a second one makes terraform exit at once without saving.
    expect(log.text()).not.toContain("Two interrupts received");
    expect(calls).toEqual(expect.arrayContaining(["pushStateJson", "unlockWorkspace"]));
    expect(log.messages()).toContain("released the terraform workspace lock");
    expect(await lockIsFree(workspaceId)).toBe(true);
    // terraform saved the interrupted resource (tainted) in the backend before it exited.
    const state = await backendState(workspaceId);
    expect(state?.resources.map((r) => r.name)).toEqual(["slow"]);
  });
});

describe("terraform handler with local state", () => {
  it("plans and applies in one go with vars, var files, plan env and a CLI config of its own", async () => {
    const { outcome, detail, log, calls } = await runTerraformJob({
      type: "sandbox-terraform",
      operation: "exec",
      plan: {
        local_dir: path.join(FIXTURES, "basic"),
        vars: { greeting: "from-vars" },
        vars_files: ['greeting = "from-file"'],
        var_file_paths: ["extra.tfvars"],
        env_vars: { FIXTURE_API_TOKEN: "tok-4f9a1b2c3d" },
      },
      // The machine's TF_CLI_CONFIG_FILE names a missing file: the handler must write one of its own.
      handler: { processEnv: { ...process.env, TF_CLI_CONFIG_FILE: path.join(root, "missing.tfrc") } },
    });
    expect(outcome).toMatchObject({ status: "finished" });
    expect(detail.executions.at(-1)?.outputs).toEqual({
      greeting: "from-file-from-path",
      api_key: SENSITIVE_OUTPUT,
    });
    expect(log.text()).not.toContain("Unable to open CLI configuration");
    // The plan's secret env var reached the command but not the log.
    expect(log.text()).toContain("applied from-file-from-path token=[REDACTED]");
    expect(log.text()).not.toContain("tok-4f9a1b2c3d");
    expect(log.text()).not.toContain(SENSITIVE_OUTPUT);
    expect(calls).toEqual([]);
  });

  it("checks the module out of git (ref and path) before running it", async () => {
    const work = path.join(root, "git-work");
    const served = path.join(root, "git-served");
    await mkdir(served, { recursive: true });
    await copyDir(path.join(FIXTURES, "basic"), path.join(work, "infra"), { recursive: true });
    await git(root, "init", "--quiet", "-b", "main", work);
    await git(work, "add", ".");
    await git(work, "commit", "--quiet", "-m", "module");
    await git(work, "tag", "v1");
    await publish(work, served, "modules");
    let server: GitServer | undefined;
    try {
      server = await startGitServer({ root: served });
      const { outcome, detail, log } = await runTerraformJob({
        type: "sandbox-terraform",
        operation: "exec",
        plan: {
          git_source: { url: server.repoUrl("modules"), ref: "v1", path: "infra" },
          vars: { suffix: "git" },
        },
      });
      expect(outcome).toMatchObject({ status: "finished" });
      expect(detail.executions.at(-1)?.outputs).toMatchObject({ greeting: "hello-git" });
      expect(log.messages()).toContain("checked out the terraform module");
    } finally {
      await server?.close();
    }
  });

  it("fails at initialize with terraform's diagnostic when the module does not init", async () => {
    const { outcome } = await runTerraformJob({ operation: "exec", plan: deployPlan("init-fails") });
    expect(outcome).toMatchObject({ status: "failed", step: "initialize" });
    expect(outcome.message).toMatch(/^terraform init failed: Unreadable module directory/);
  });

  it.each([
    [
      "a DeployPlan without `terraform`",
      { local_dir: path.join(FIXTURES, "basic") },
      "fetch",
      /the plan is invalid.*terraform/,
    ],
    [
      "a var file path leaving the module",
      deployPlan("basic", { var_file_paths: ["../../../etc/passwd"] }),
      "validate",
      /var_file_paths\[0\] "\.\.\/\.\.\/\.\.\/etc\/passwd" is outside the module directory/,
    ],
    [
      "an OCI module source without a repository",
      { src_registry: { RegistryType: "ecr" }, src_tag: "v1", terraform: {} },
      "fetch",
      /src_registry cannot be used: the registry config has no Repository/,
    ],
    [
      "a module directory that does not exist",
      { local_dir: path.join(FIXTURES, "nope"), terraform: {} },
      "fetch",
      /local source .*nope does not exist/,
    ],
  ])("fails with a clear message on %s", async (_name, plan, step, message) => {
    const { outcome } = await runTerraformJob({ operation: "exec", plan });
    expect(outcome).toMatchObject({ status: "failed", step });
    expect(outcome.message).toMatch(message);
  });

  it("refuses apply-plan without a saved plan, and a backend workspace without the runner token", async () => {
    const noPlan = await runTerraformJob({ operation: "apply-plan", plan: deployPlan("basic") });
    expect(noPlan.outcome).toMatchObject({ status: "failed", step: "validate" });
    expect(noPlan.outcome.message).toMatch(/apply-plan needs the saved plan in apply_plan_contents/);

    const noToken = await runTerraformJob({
      operation: "exec",
      plan: deployPlan("basic", { terraform_backend: { WorkspaceID: "ws-x" } }),
      handler: { apiToken: "" },
    });
    expect(noToken.outcome).toMatchObject({ status: "failed", step: "validate" });
    expect(noToken.outcome.message).toMatch(/without the runner's API token/);
  });
});
