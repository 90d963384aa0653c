/**
 * The terraform handler, for `terraform-deploy` (DeployPlan) and `sandbox-terraform` (SandboxRunPlan).
 *
 * fetch: copy the module into the workspace · validate: the saved plan and var files · initialize: write the
 * workspace files and `terraform init` · execute, by `job.operation`:
 * - `create-apply-plan` / `create-teardown-plan`: `plan [-destroy] -out=tfplan`; the result carries the tfplan
 *   bytes and `terraform show -json tfplan` as display;
 * - `apply-plan`: applies exactly the saved plan from `apply_plan_contents` (its variables win);
 * - anything else (`exec`, `unknown`): plan and apply in one go.
 * After an apply: outputs (`terraform output -json`) and, with a control-plane workspace, the state
 * (`terraform show -json`) pushed to `state-json`.
 *
 * State lives in the control plane's http backend when the plan names a workspace (`terraform_backend`), else
 * locally in the workspace. On cancel, terraform gets SIGINT (it stops, saves state and releases its lock);
 * the graceful shutdown then pushes the state and unlocks the workspace, logging rather than throwing.
 */
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRedactor, type Redactor } from "../../logs/redact.ts";
import type { AbortReason, BaseJobContext, JobContext, JobHandler, JobLog } from "../handler.ts";
import { redactingLog } from "../redacting-log.ts";
import { applyArgs, applySavedPlanArgs, initArgs, outputJsonArgs, planArgs, showJsonArgs } from "./args.ts";
import { httpBackendEnv } from "./backend.ts";
import { createTerraformCli, type TerraformCli } from "./cli.ts";
import { cliConfigFileFrom, terraformEnv } from "./env.ts";
import {
  resolveVarFilePaths,
  type TerraformPaths,
  terraformPaths,
  writeBackendOverride,
  writeBaseFiles,
  writeSavedPlan,
  writeVarFiles,
  writeVars,
} from "./files.ts";
import { maskedOutputs, parseOutputJson, secretTexts } from "./outputs.ts";
import { parseTerraformPlan, type TerraformJobPlan, type TerraformPlanVariant } from "./plan.ts";
import { decodeSavedPlan } from "./plan-file.ts";
import { prepareModule } from "./source.ts";
import { messageOf, pushStateJson, saveAndUnlock } from "./state.ts";

/** What a terraform job does, from `job.operation`. */
export type TerraformOperation = "create-apply-plan" | "create-teardown-plan" | "apply-plan" | "exec";

/** Default time the graceful shutdown may spend pushing state and unlocking after a cancel: 30 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** Options of createTerraformHandler. */
export interface TerraformHandlerOptions {
  /** Which plan shape the job type sends: "deploy" (terraform-deploy) or "sandbox" (sandbox-terraform). */
  variant: TerraformPlanVariant;
  /** The runner's API token, for the http backend; jobs with a workspace fail without it. Registered as a secret. */
  apiToken?: string;
  /** Where secrets are registered and log lines scrubbed; default a redactor of this handler's own. */
  redactor?: Redactor;
  /** The terraform executable; default "terraform" (looked up on PATH). */
  terraformPath?: string;
  /** The runner's environment (allowlisted by baseEnv; its TF_CLI_CONFIG_FILE if it exists); default process.env. */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Relative `local_dir`s resolve against this; default process.cwd(). */
  cwd?: string;
  /** Milliseconds the graceful shutdown may spend on state push and unlock; default 30 000. */
  shutdownTimeoutMs?: number;
}

/** Maps `job.operation` to what the handler does (anything unknown plans and applies). */
export function terraformOperation(operation: string | undefined): TerraformOperation {
  return operation === "create-apply-plan" ||
    operation === "create-teardown-plan" ||
    operation === "apply-plan"
    ? operation
    : "exec";
}

/** Creates the handler of one terraform job. */
export function createTerraformHandler(options: TerraformHandlerOptions): JobHandler<TerraformJobPlan> {
  const redactor = options.redactor ?? createRedactor();
  if (options.apiToken) redactor.add(options.apiToken);
  const processEnv = options.processEnv ?? process.env;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;

  let jobPlan: TerraformJobPlan | undefined;
  let paths: TerraformPaths | undefined;
  let ownedRoot: string | undefined;
  let cli: TerraformCli | undefined;
  let log: JobLog | undefined;
  let savedPlan: Buffer | undefined;
  let varFiles: string[] = [];
  let initialized = false;
  /** A command that takes the state lock (plan/apply) has started: on cancel, unlock. */
  let lockTaken = false;
  let outputs: Record<string, unknown> = {};
  let shutdown: Promise<void> | undefined;

  const fail = (message: string, cause?: unknown): Error =>
    new Error(redactor.redact(message).text, { cause });
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`the terraform handler has no ${what} yet; a previous step did not run`);
    return value;
  };

  async function pushState(ctx: JobContext<TerraformJobPlan>): Promise<void> {
    const workspaceId = ctx.plan.workspaceId;
    if (workspaceId === undefined) return;
    const ref = { workspaceId, jobId: ctx.job.id };
    await pushStateJson(need(cli, "terraform"), ctx.client, ref, ctx.signal, need(log, "log"));
  }

  async function collectOutputs(ctx: JobContext<TerraformJobPlan>): Promise<void> {
    const text = await need(cli, "terraform").run(outputJsonArgs(), { signal: ctx.signal, capture: true });
    const parsed = parseOutputJson(text);
    // The wire carries real values (downstream components read them); logs never do.
    for (const name of parsed.sensitive)
      for (const secret of secretTexts(parsed.values[name])) redactor.add(secret);
    outputs = parsed.values;
    need(log, "log").info("collected the terraform outputs", {
      outputs: maskedOutputs(parsed),
      sensitive: parsed.sensitive,
    });
  }

  /** Runs an apply; afterwards (even when it failed, unless aborted) pushes the state. */
  async function apply(ctx: JobContext<TerraformJobPlan>, args: string[]): Promise<void> {
    const terraform = need(cli, "terraform");
    lockTaken = true;
    try {
      await terraform.run(args, { signal: ctx.signal });
    } catch (err) {
      if (!ctx.signal.aborted) {
        await pushState(ctx).catch((pushErr: unknown) =>
          need(log, "log").warn("could not push the terraform state after the failed apply", {
            error: messageOf(pushErr),
          }),
        );
      }
      throw err;
    }
    await collectOutputs(ctx);
    try {
      await pushState(ctx);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      need(log, "log").warn("could not push the terraform state; the state itself is saved in the backend", {
        error: messageOf(err),
      });
    }
  }

  async function createPlan(ctx: JobContext<TerraformJobPlan>, destroy: boolean): Promise<void> {
    const terraform = need(cli, "terraform");
    const p = need(paths, "workspace");
    lockTaken = true;
    await terraform.run(planArgs({ out: p.planFile, destroy, varFiles }), { signal: ctx.signal });
    const display = await terraform.run(showJsonArgs(p.planFile), { signal: ctx.signal, capture: true });
    ctx.result.contents = await readFile(p.planFile);
    ctx.result.contentsDisplay = display;
    need(log, "log").info("saved the terraform plan", { destroy, bytes: ctx.result.contents.byteLength });
  }

  return {
    name: "terraform",

    parsePlan(raw) {
      return parseTerraformPlan(options.variant, raw);
    },

    async fetch(ctx) {
      jobPlan = ctx.plan;
      const jobLog = redactingLog(ctx.log, redactor);
      log = jobLog;
      redactor.addFromEnv(ctx.plan.envVars);
      redactor.addFromObject(ctx.plan.vars);
      let root = ctx.workspaceDir;
      if (root === undefined) {
        ownedRoot = await mkdtemp(path.join(tmpdir(), "runner-terraform-"));
        await chmod(ownedRoot, 0o700);
        root = ownedRoot;
      }
      try {
        const module = await prepareModule({
          source: ctx.plan.source,
          workspaceDir: root,
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
          signal: ctx.signal,
          log: jobLog,
          onSecret: (secret) => redactor.add(secret),
        });
        paths = terraformPaths(root, module.dir);
      } catch (err) {
        throw fail(messageOf(err), err);
      }
    },

    async validate(ctx) {
      const p = need(paths, "workspace");
      const operation = terraformOperation(ctx.job.operation);
      if (operation === "apply-plan") {
        if (ctx.plan.applyPlanContents === undefined) {
          throw fail(
            "operation apply-plan needs the saved plan in apply_plan_contents, and the plan has none",
          );
        }
        savedPlan = decodeSavedPlan(ctx.plan.applyPlanContents);
      }
      if (ctx.plan.workspaceId !== undefined && !options.apiToken) {
        throw fail(
          "the plan keeps its state in the control plane (terraform_backend), but this terraform handler was created without the runner's API token",
        );
      }
      varFiles = await resolveVarFilePaths(p, ctx.plan.varFilePaths);
    },

    async initialize(ctx) {
      const p = need(paths, "workspace");
      const operation = terraformOperation(ctx.job.operation);
      await writeBaseFiles(p);
      if (operation === "apply-plan") {
        // The saved plan carries its variables; terraform refuses -var/-var-file when applying one.
        varFiles = [];
        await writeSavedPlan(p, need(savedPlan, "saved plan"));
      } else {
        await writeVars(p, ctx.plan.vars);
        varFiles = [...(await writeVarFiles(p, ctx.plan.varsFiles)), ...varFiles];
      }
      const workspaceId = ctx.plan.workspaceId;
      if (workspaceId !== undefined) await writeBackendOverride(p);
      const env = terraformEnv({
        processEnv,
        planEnv: ctx.plan.envVars,
        dataDir: p.dataDir,
        cliConfigFile: cliConfigFileFrom(processEnv) ?? p.cliConfigFile,
        ...(workspaceId === undefined
          ? {}
          : {
              backendEnv: httpBackendEnv({
                baseUrl: ctx.client.baseUrl,
                token: options.apiToken ?? "",
                workspaceId,
                jobId: ctx.job.id,
              }),
            }),
      });
      const jobLog = need(log, "log");
      cli = createTerraformCli({
        file: options.terraformPath ?? "terraform",
        cwd: p.moduleDir,
        env,
        log: jobLog,
        killGraceMs: ctx.killGraceMs,
      });
      jobLog.info("initializing terraform", {
        operation,
        backend: workspaceId === undefined ? "local" : "http",
        ...(workspaceId === undefined ? {} : { workspaceId }),
      });
      try {
        await cli.run(initArgs(), { signal: ctx.signal });
      } catch (err) {
        throw fail(messageOf(err), err);
      }
      initialized = true;
    },

    async execute(ctx) {
      const operation = terraformOperation(ctx.job.operation);
      const p = need(paths, "workspace");
      try {
        switch (operation) {
          case "create-apply-plan":
            await createPlan(ctx, false);
            return;
          case "create-teardown-plan":
            await createPlan(ctx, true);
            return;
          case "apply-plan":
            await apply(ctx, applySavedPlanArgs(p.planFile));
            return;
          case "exec":
            await apply(ctx, applyArgs({ varFiles }));
            return;
        }
      } catch (err) {
        throw fail(messageOf(err), err);
      }
    },

    async outputs() {
      return outputs;
    },

    async cleanup() {
      // A graceful shutdown may still be pushing state from this workspace; let it finish first.
      await shutdown;
      if (ownedRoot !== undefined) await rm(ownedRoot, { recursive: true, force: true, maxRetries: 3 });
      ownedRoot = undefined;
    },

    gracefulShutdown(ctx: BaseJobContext, reason: AbortReason) {
      const jobLog = log ?? redactingLog(ctx.log, redactor);
      jobLog.warn("stopping terraform: it gets SIGINT so it can save its state and release its lock", {
        kind: reason.kind,
      });
      const workspaceId = jobPlan?.workspaceId;
      if (workspaceId === undefined || !lockTaken) {
        shutdown = cli?.idle() ?? Promise.resolve();
        return shutdown;
      }
      shutdown = saveAndUnlock({
        cli,
        client: ctx.client,
        ref: { workspaceId, jobId: ctx.job.id },
        initialized,
        signal: AbortSignal.timeout(shutdownTimeoutMs),
        log: jobLog,
      });
      return shutdown;
    },
  };
}
