import { describe, expect, it } from "vitest";
import type { JobSpec } from "../../src/dev/job-file.ts";
import { prepareJob, terraformWorkspaceId } from "../../src/dev/plan-input.ts";

const ctx = { runId: "run1", defaultAvailableMs: 60_000 };
const spec = (over: Partial<JobSpec>): JobSpec => ({
  name: "job",
  file: "/jobs/file.yaml",
  type: "noop",
  dependsOn: [],
  plan: undefined,
  timeoutsMs: {},
  ...over,
});

describe("prepareJob", () => {
  it("puts a local module in local_dir and the state in a stable control-plane workspace", () => {
    const s = spec({
      name: "infra",
      type: "terraform-deploy",
      source: { kind: "local", dir: "/jobs/module" },
      state: "control-plane",
      plan: { terraform: { vars: { a: 1 } } },
    });
    const { input, workspaceId } = prepareJob(s, ctx);
    expect(workspaceId).toBe(terraformWorkspaceId(s));
    expect(workspaceId).toMatch(/^run-local-infra-[0-9a-f]{10}$/);
    expect(input.plan).toEqual({
      local_dir: "/jobs/module",
      terraform: { vars: { a: 1 }, terraform_backend: { WorkspaceID: workspaceId } },
    });
    expect(prepareJob(s, { ...ctx, runId: "run2" }).workspaceId).toBe(workspaceId);
    expect(terraformWorkspaceId({ ...s, file: "/other.yaml" })).not.toBe(workspaceId);
  });

  it("keeps local state when asked, and a workspace the plan names", () => {
    const local = prepareJob(
      spec({ type: "sandbox-terraform", state: "local", plan: { terraform_backend: { WorkspaceID: "x" } } }),
      ctx,
    );
    expect(local.workspaceId).toBeUndefined();
    expect(local.input.plan).toEqual({});
    const named = prepareJob(
      spec({
        type: "sandbox-terraform",
        state: "control-plane",
        plan: { terraform_backend: { WorkspaceID: "mine" } },
      }),
      ctx,
    );
    expect(named.workspaceId).toBe("mine");
  });

  it("puts a git module in git_source and resolves a plan's own relative local_dir against the job file", () => {
    const git = prepareJob(
      spec({
        type: "terraform-deploy",
        state: "local",
        source: { kind: "git", url: "https://h/r.git", ref: "v1", path: "m" },
      }),
      ctx,
    );
    expect(git.input.plan).toEqual({
      git_source: { url: "https://h/r.git", ref: "v1", path: "m" },
      terraform: {},
    });
    const rel = prepareJob(
      spec({ type: "terraform-deploy", state: "local", plan: { local_dir: "./mod", terraform: {} } }),
      ctx,
    );
    expect((rel.input.plan as { local_dir: string }).local_dir).toBe("/jobs/mod");
  });

  it("makes a helm job's local chart its helm.chart, and a relative helm.chart absolute", () => {
    const local = prepareJob(
      spec({
        type: "helm-chart-deploy",
        source: { kind: "local", dir: "/jobs/chart" },
        plan: { helm: { name: "r" } },
      }),
      ctx,
    );
    expect(local.input.plan).toEqual({ helm: { name: "r", chart: "/jobs/chart" } });
    const rel = prepareJob(
      spec({ type: "helm-chart-deploy", plan: { helm: { name: "r", chart: "../c" } } }),
      ctx,
    );
    expect(rel.input.plan).toEqual({ helm: { name: "r", chart: "/c" } });
    const repo = prepareJob(
      spec({ type: "helm-chart-deploy", plan: { helm: { name: "r", chart: "bitnami/nginx" } } }),
      ctx,
    );
    expect(repo.input.plan).toEqual({ helm: { name: "r", chart: "bitnami/nginx" } });
  });

  it("turns workflow steps into a plan with ids for the step PUTs", () => {
    const { input, stepNames } = prepareJob(
      spec({
        name: "greet",
        type: "actions-workflow",
        steps: [
          { name: "say hi", run: "echo hi", env: { A: "1" }, timeoutMs: 1500 },
          { name: "say hi", command: "./run.sh x" },
        ],
        source: { kind: "git", url: "https://h/s.git" },
      }),
      ctx,
    );
    expect(input.plan).toEqual({
      id: "run1-greet",
      install_id: "run-local",
      steps: [
        {
          name: "say hi",
          id: "say-hi",
          interpolated_inline_contents: "echo hi",
          interpolated_env_vars: { A: "1" },
          timeout: 1_500_000_000,
          git_source: { url: "https://h/s.git" },
        },
        {
          name: "say hi",
          id: "say-hi-2",
          interpolated_command: "./run.sh x",
          git_source: { url: "https://h/s.git" },
        },
      ],
    });
    expect([...stepNames]).toEqual([
      ["say-hi", "say hi"],
      ["say-hi-2", "say hi"],
    ]);
  });

  it("converts timeouts to nanoseconds, defaults the available timeout and allows one execution", () => {
    const { input } = prepareJob(
      spec({ timeoutsMs: { execution: 2000, queue: 1000 }, metadata: { k: "v" } }),
      ctx,
    );
    expect(input).toMatchObject({
      type: "noop",
      queue_timeout: 1_000_000_000,
      execution_timeout: 2_000_000_000,
      available_timeout: 60_000_000_000,
      max_executions: 1,
      metadata: { k: "v", "run-local.run_id": "run1", "run-local.job": "job" },
    });
  });
});
