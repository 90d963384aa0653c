/**
 * bundle/terraform-ecs with the real terraform but no AWS provider (it cannot be downloaded here):
 * `terraform fmt -check` parses and checks every file, and variables.tf + locals.tf, which need no provider,
 * are planned in a scratch folder so terraform itself evaluates the validations (drain ≤ 90 s so that
 * stopTimeout ≤ ECS's 120 s, token ARNs, no token in plain env) and the container's env/secrets. The resources
 * in main.tf are checked as text: `terraform validate` needs the provider (see docs/deployment.md).
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const MODULE = path.join(ROOT, "bundle/terraform-ecs");
let scratch: string;
let env: NodeJS.ProcessEnv;

const REQUIRED = {
  name: "runner_01",
  cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/runners",
  image: "runner:0.1.0",
  runner_id: "runner_01abc",
  token_secret_arn: "arn:aws:ssm:us-east-1:123456789012:parameter/runner/token",
  subnet_ids: ["subnet-0abc"],
};

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "runner-tf-"));
  await writeFile(path.join(scratch, "cli.tfrc"), "");
  // our own empty CLI config: the machine's TF_CLI_CONFIG_FILE names a missing file
  env = {
    PATH: process.env.PATH,
    HOME: scratch,
    TF_CLI_CONFIG_FILE: path.join(scratch, "cli.tfrc"),
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
  };
  for (const file of ["variables.tf", "locals.tf"])
    await copyFile(path.join(MODULE, file), path.join(scratch, file));
  await writeFile(
    path.join(scratch, "probe.tf"),
    `output "probe" {\n  value = {\n    stop_timeout = local.stop_timeout\n    token_is_ssm = local.token_is_ssm\n    environment  = local.container_environment\n    secrets      = local.container_secrets\n    health       = local.health_command\n  }\n}\n`,
  );
  await run("terraform", ["init", "-input=false", "-no-color"], { cwd: scratch, env });
}, 60_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface Probe {
  stop_timeout: number;
  token_is_ssm: boolean;
  environment: Array<{ name: string; value: string }>;
  secrets: Array<{ name: string; valueFrom: string }>;
  health: string[];
}

/** Plans the provider-free part with `vars`; resolves with the probe output or the error text. */
async function plan(vars: Record<string, unknown>): Promise<{ probe?: Probe; error?: string }> {
  const varFile = path.join(scratch, "test.tfvars.json");
  await writeFile(varFile, JSON.stringify({ ...REQUIRED, ...vars }));
  try {
    await run("terraform", ["plan", "-input=false", "-no-color", `-var-file=${varFile}`, "-out=tfplan"], {
      cwd: scratch,
      env,
    });
    const { stdout } = await run("terraform", ["show", "-json", "tfplan"], { cwd: scratch, env });
    return { probe: JSON.parse(stdout).planned_values.outputs.probe.value as Probe };
  } catch (err) {
    return { error: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

describe("bundle/terraform-ecs", () => {
  it("is terraform-fmt clean, and fmt does parse the files (a broken copy fails)", async () => {
    await run("terraform", ["fmt", "-check", "-recursive", "bundle/terraform-ecs"], { cwd: ROOT, env });
    const broken = path.join(scratch, "broken");
    await run("mkdir", [broken]);
    await writeFile(path.join(broken, "main.tf"), 'resource "aws_ecs_service" "x" {\n  name = \n');
    await expect(run("terraform", ["fmt", "-check", broken], { env })).rejects.toThrow();
  });

  it("sets stopTimeout to the drain timeout + 30 s and the runner's drain timeout to the same value", async () => {
    const { probe, error } = await plan({ drain_timeout_seconds: 60 });
    expect(error).toBeUndefined();
    expect(probe!.stop_timeout).toBe(90);
    expect(probe!.environment).toContainEqual({ name: "RUNNER_DRAIN_TIMEOUT", value: "60s" });
    expect((await plan({})).probe!.stop_timeout).toBe(120); // the default, 90 s, is the most ECS allows
  });

  it("refuses a drain timeout that would push stopTimeout past ECS's 120 s", async () => {
    const { error } = await plan({ drain_timeout_seconds: 91 });
    expect(error).toContain("drain_timeout_seconds must be a whole number from 0 to 90");
  });

  it("passes the token only as an ECS secret, from SSM or Secrets Manager, never as plain env", async () => {
    const ssm = await plan({ extra_environment: { RUNNER_CONCURRENCY: "2" } });
    expect(ssm.probe!.secrets).toEqual([{ name: "RUNNER_API_TOKEN", valueFrom: REQUIRED.token_secret_arn }]);
    expect(ssm.probe!.token_is_ssm).toBe(true);
    expect(ssm.probe!.environment.map((e) => e.name)).toEqual([
      "LOG_LEVEL",
      "RUNNER_ADMIN_PORT",
      "RUNNER_API_URL",
      "RUNNER_CONCURRENCY",
      "RUNNER_DRAIN_TIMEOUT",
      "RUNNER_ID",
      "RUNNER_LOG_FORMAT",
      "RUNNER_STATE_DIR",
    ]);
    const sm = await plan({
      token_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:runner-token-AbCdEf",
    });
    expect(sm.probe!.token_is_ssm).toBe(false);
    expect((await plan({ extra_environment: { RUNNER_API_TOKEN: "x" } })).error).toContain(
      "RUNNER_API_TOKEN must come from token_secret_arn",
    );
    expect((await plan({ token_secret_arn: "plain-token-value" })).error).toContain(
      "must be an SSM parameter ARN",
    );
  });

  it("checks the container's health like the image does, on /healthz", async () => {
    const { probe } = await plan({});
    expect(probe!.health.slice(0, 3)).toEqual(["CMD", "node", "-e"]);
    expect(probe!.health[3]).toContain("http://127.0.0.1:5000/healthz");
  });

  it("wires secrets, stopTimeout, logs and a read-only non-root container into the task definition", async () => {
    const main = await readFile(path.join(MODULE, "main.tf"), "utf8");
    expect(main).toContain("secrets                = local.container_secrets");
    expect(main).toContain("environment            = local.container_environment");
    expect(main).toContain("stopTimeout            = local.stop_timeout");
    expect(main).toContain('user                   = "10001:10001"');
    expect(main).toContain("readonlyRootFilesystem = true");
    expect(main).toContain('logDriver = "awslogs"');
    expect(main).not.toContain("RUNNER_API_TOKEN");
  });

  it("grants the execution role only its log group, the token and image pulls; the task role nothing by default", async () => {
    const main = await readFile(path.join(MODULE, "main.tf"), "utf8");
    const execution = main.slice(
      main.indexOf('data "aws_iam_policy_document" "execution"'),
      main.indexOf('resource "aws_iam_role_policy" "execution"'),
    );
    const statements = [
      ...execution.matchAll(/sid\s+= "(\w+)"[\s\S]*?actions\s+= ([^\n]+)\n\s+resources = ([^\n]+)/g),
    ].map((m) => ({
      sid: m[1],
      actions: m[2],
      resources: m[3],
    }));
    expect(statements).toEqual([
      {
        sid: "Logs",
        actions: '["logs:CreateLogStream", "logs:PutLogEvents"]',
        resources: `["$\{aws_cloudwatch_log_group.runner.arn}:*"]`,
      },
      {
        sid: "ReadToken",
        actions: 'local.token_is_ssm ? ["ssm:GetParameters"] : ["secretsmanager:GetSecretValue"]',
        resources: "[var.token_secret_arn]",
      },
      { sid: "DecryptToken", actions: '["kms:Decrypt"]', resources: "[statement.value]" },
      {
        sid: "PullImage",
        actions: '["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]',
        resources: '["*"]',
      },
    ]);
    const task = main.slice(main.indexOf('resource "aws_iam_role" "task"'), main.indexOf("# ---- network"));
    expect(task).not.toMatch(/actions\s+= \["\*"\]/);
    expect(task).toContain("for_each   = toset(var.task_role_policy_arns)");
  });

  it("uses every variable it declares", async () => {
    const variables = await readFile(path.join(MODULE, "variables.tf"), "utf8");
    const code = (
      await Promise.all(
        ["main.tf", "locals.tf", "outputs.tf"].map((f) => readFile(path.join(MODULE, f), "utf8")),
      )
    ).join("\n");
    for (const [, name] of variables.matchAll(/^variable "(\w+)"/gm)) {
      expect(code, `var.${name}`).toMatch(new RegExp(`var\\.${name}\\b`));
    }
  });
});
