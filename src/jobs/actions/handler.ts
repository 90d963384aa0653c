/**
 * The `actions-workflow` handler (PROTOCOL.md §1.8 ActionWorkflowRunPlan, §1.10). Steps run in order, each
 * reported with `PUT /v1/installs/{install_id}/action-workflow-runs/{plan.id}/steps/{step id}`: `in-progress`
 * when it starts, then `finished`, `error`, `timed-out` or `cancelled` with its `execution_duration` (ns). When a
 * step fails, the job fails with a message naming the step, and the steps after it are reported `noop` and not
 * run; a cancel or timeout of the job stops the running step (runCommand escalates SIGTERM → SIGKILL) and does
 * the same. Outputs: every step's outputs merged at the top level plus `steps.<name>` (outputs.ts).
 *
 * Commands are split into argv without a shell (shell-words.ts); inline contents run as a script. Values of
 * secret-named variables (and credentials in the plan and git URLs) are redacted from everything logged.
 */
import { chmod, writeFile } from "node:fs/promises";
import type { ControlPlaneApi } from "../../control-plane/api.ts";
import { msToNs, type StepStatus } from "../../control-plane/schemas.ts";
import { baseEnv } from "../../exec/env.ts";
import { createRedactor, type Redactor } from "../../logs/redact.ts";
import { parseRepoUrl } from "../../sources/git-url.ts";
import { resolveInside } from "../../workspace/safe-path.ts";
import { isAbortReason, type JobContext, type JobHandler, type JobLog } from "../handler.ts";
import { redactingLog } from "../redacting-log.ts";
import { awsEnv, buildStepEnv, KUBECONFIG_ENABLED_ENV } from "./env.ts";
import { addStepOutputs } from "./outputs.ts";
import { type ActionStepPlan, ActionWorkflowRunPlan, stepId, stepName } from "./plan.ts";
import { runStep, StepError } from "./steps.ts";

/** Default deadline of one step status PUT (after the job was aborted too): 15 s. */
export const STEP_STATUS_TIMEOUT_MS = 15_000;
/** The duration Nuon's runner reports for each step in sandbox mode: 5 s, in ns. */
export const SANDBOX_STEP_DURATION_NS = 5_000_000_000;

/** Dependencies of the handler (all optional). */
export interface ActionsHandlerDeps {
  /** The runner's environment, filtered by baseEnv; default process.env. */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Clock in ms; default performance.now. */
  now?: () => number;
  /** Deadline of each step status PUT, in ms; default STEP_STATUS_TIMEOUT_MS. */
  statusTimeoutMs?: number;
}

/** Creates the actions-workflow handler. */
export function createActionsWorkflowHandler(
  deps: ActionsHandlerDeps = {},
): JobHandler<ActionWorkflowRunPlan> {
  const now = deps.now ?? (() => performance.now());
  return {
    name: "actions-workflow",
    parsePlan: (raw) => ActionWorkflowRunPlan.parse(raw),
    async execute(ctx) {
      const root = ctx.workspaceDir;
      if (root === undefined)
        throw new Error("action workflows need a job workspace, and this runner gave none");
      const { plan } = ctx;
      const redactor = secretsOf(plan, deps.processEnv ?? process.env);
      const log = redactingLog(ctx.log, redactor);
      const report = stepReporter(ctx.client, plan, log, deps.statusTimeoutMs ?? STEP_STATUS_TIMEOUT_MS);
      if (ctx.outputs.steps === undefined) ctx.outputs.steps = {};

      if (plan.sandbox_mode?.enabled) {
        for (const [index, step] of plan.steps.entries()) {
          addStepOutputs(ctx.outputs, stepName(step, index), { ...(plan.sandbox_mode.outputs ?? {}) });
          await report(step, "finished", SANDBOX_STEP_DURATION_NS);
        }
        return;
      }

      const runnerEnv = await runnerProvidedEnv(ctx, root, log);
      const base = baseEnv(deps.processEnv ?? process.env);
      const total = plan.steps.length;
      for (const [index, step] of plan.steps.entries()) {
        const name = stepName(step, index);
        if (ctx.signal.aborted) {
          await reportNotRun(report, plan.steps.slice(index));
          throw ctx.signal.reason;
        }
        const env = buildStepEnv({
          base,
          builtin: plan.builtin_env_vars,
          runner: runnerEnv,
          step: step.interpolated_env_vars,
          override: plan.override_env_vars,
          root,
          index,
        });
        redactor.addFromEnv(env);
        log.info("executing action step", { step: name, number: index + 1, total });
        const startedAt = now();
        const elapsedNs = () => msToNs(Math.max(0, now() - startedAt));
        await report(step, "in-progress", 0);
        try {
          const outputs = await runStep({
            step,
            index,
            root,
            env,
            signal: ctx.signal,
            killGraceMs: ctx.killGraceMs,
            log,
          });
          addStepOutputs(ctx.outputs, name, outputs);
          await report(step, "finished", elapsedNs());
          log.info("action step finished", { step: name, durationMs: Math.round(now() - startedAt) });
        } catch (err) {
          const status = failedStatus(err, ctx.signal);
          await report(step, status, elapsedNs());
          await reportNotRun(report, plan.steps.slice(index + 1));
          const reason = err instanceof Error ? err.message : String(err);
          throw new Error(
            redactor.redact(`action step "${name}" (${index + 1} of ${total}) ${reason}`).text,
            {
              cause: err,
            },
          );
        }
      }
    },
  };
}

/** The status a failed step is reported with: the job's abort wins over what the step saw. */
function failedStatus(err: unknown, signal: AbortSignal): StepStatus {
  if (signal.aborted) {
    return isAbortReason(signal.reason) && signal.reason.kind === "timed-out" ? "timed-out" : "cancelled";
  }
  return err instanceof StepError ? err.status : "error";
}

type Report = (step: ActionStepPlan, status: StepStatus, durationNs: number) => Promise<void>;

async function reportNotRun(report: Report, steps: ActionStepPlan[]): Promise<void> {
  for (const step of steps) await report(step, "noop", 0);
}

/** PUTs step statuses; best effort (the client retries; a failure is logged and the workflow goes on). */
function stepReporter(
  client: ControlPlaneApi,
  plan: ActionWorkflowRunPlan,
  log: JobLog,
  timeoutMs: number,
): Report {
  let warned = false;
  return async (step, status, durationNs) => {
    const id = stepId(step);
    if (!plan.install_id || !plan.id || id === undefined) {
      if (!warned) log.warn("the plan lacks install_id, id or step ids; step statuses are not reported");
      warned = true;
      return;
    }
    try {
      await client.updateActionStep(
        { installId: plan.install_id, workflowRunId: plan.id, stepId: id },
        status,
        durationNs,
        { signal: AbortSignal.timeout(timeoutMs) },
      );
    } catch (err) {
      log.warn("could not report the action step status; the workflow goes on", {
        stepId: id,
        status,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
}

/** A redactor knowing the plan's credentials, secret-named variables, and passwords in git URLs. */
function secretsOf(
  plan: ActionWorkflowRunPlan,
  processEnv: Readonly<Record<string, string | undefined>>,
): Redactor {
  const redactor = createRedactor();
  redactor.addFromObject(plan);
  redactor.addFromEnv(processEnv);
  for (const env of [
    plan.builtin_env_vars,
    plan.override_env_vars,
    ...plan.steps.map((s) => s.interpolated_env_vars),
  ]) {
    if (env) redactor.addFromEnv(env);
  }
  for (const step of plan.steps) {
    if (!step.git_source) continue;
    try {
      const password = parseRepoUrl(step.git_source.url).credentials?.password;
      if (password) redactor.add(password);
    } catch {
      // An invalid URL fails the step later, with a message that does not show it.
    }
  }
  return redactor;
}

/** KUBECONFIG from the plan's cluster_info (written 0600 into the workspace) and AWS variables from aws_auth. */
async function runnerProvidedEnv(
  ctx: JobContext<ActionWorkflowRunPlan>,
  root: string,
  log: JobLog,
): Promise<Record<string, string>> {
  const env: Record<string, string> = { [KUBECONFIG_ENABLED_ENV]: "false" };
  const kubeConfig = ctx.plan.cluster_info?.kube_config;
  if (kubeConfig) {
    const file = resolveInside(root, "kubeconfig");
    await writeFile(file, kubeConfig, { mode: 0o600 });
    await chmod(file, 0o600);
    env.KUBECONFIG = file;
    env[KUBECONFIG_ENABLED_ENV] = "true";
  } else if (ctx.plan.cluster_info) {
    log.warn("cluster_info has no kube_config; steps run without KUBECONFIG");
  }
  const aws = awsEnv(ctx.plan.aws_auth);
  if (aws.unsupported !== undefined) log.warn(aws.unsupported);
  return { ...env, ...aws.env };
}
