/**
 * From a job of a job file to what the control plane is asked to enqueue (EnqueueJobInput): the job's
 * source goes where its handler reads it (terraform `local_dir` / `git_source`, action steps' `git_source`),
 * a helm job's local chart becomes `helm.chart`, terraform state goes to a control-plane workspace unless the job says `state: local`, action steps get the
 * ids their status PUTs need, and timeouts become nanoseconds. Pure, so it is table-tested.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { msToNs } from "../control-plane/schemas.ts";
import type { EnqueueJobInput } from "../mock-control-plane/model.ts";
import type { JobSpec, StepSpec } from "./job-file.ts";

/** The install id action workflow plans get when they name none. */
export const RUN_LOCAL_INSTALL_ID = "run-local";

/** What prepareJob needs besides the job. */
export interface PrepareContext {
  runId: string;
  /** available_timeout when the job file sets none, in ms (run-local: the run's deadline). */
  defaultAvailableMs: number;
}

/** The enqueue body and what the observer needs to name things. */
export interface PreparedJob {
  input: EnqueueJobInput;
  /** Action step id (as PUT) → step name. */
  stepNames: Map<string, string>;
  /** The control-plane terraform workspace holding the job's state, when it has one. */
  workspaceId?: string;
}

type Json = Record<string, unknown>;

/** The control-plane workspace of a terraform job: stable for the same job file and job name. */
export function terraformWorkspaceId(spec: Pick<JobSpec, "file" | "name">): string {
  const hash = createHash("sha256").update(`${spec.file}\0${spec.name}`).digest("hex").slice(0, 10);
  return `run-local-${spec.name}-${hash}`;
}

/** Builds the enqueue body of `spec`. */
export function prepareJob(spec: JobSpec, ctx: PrepareContext): PreparedJob {
  const plan: Json = isObject(spec.plan) ? structuredClone(spec.plan) : {};
  const stepNames = new Map<string, string>();
  let workspaceId: string | undefined;
  if (spec.type === "terraform-deploy" || spec.type === "sandbox-terraform") {
    const settings = spec.type === "terraform-deploy" ? objectAt(plan, "terraform") : plan;
    placeTerraformSource(plan, spec);
    if (spec.state === "local") {
      delete settings.terraform_backend;
    } else {
      const backend = isObject(settings.terraform_backend) ? settings.terraform_backend : {};
      const given =
        typeof backend.WorkspaceID === "string" && backend.WorkspaceID !== ""
          ? backend.WorkspaceID
          : undefined;
      workspaceId = given ?? terraformWorkspaceId(spec);
      settings.terraform_backend = { ...backend, WorkspaceID: workspaceId };
    }
  }
  if (spec.type === "actions-workflow") prepareWorkflow(plan, spec, ctx, stepNames);
  if (spec.type === "helm-chart-deploy") placeChart(plan, spec);
  const t = spec.timeoutsMs;
  const input: EnqueueJobInput = {
    type: spec.type,
    ...(spec.operation !== undefined ? { operation: spec.operation } : {}),
    plan,
    metadata: { ...spec.metadata, "run-local.run_id": ctx.runId, "run-local.job": spec.name },
    ...(t.queue !== undefined ? { queue_timeout: msToNs(t.queue) } : {}),
    available_timeout: msToNs(t.available ?? ctx.defaultAvailableMs),
    ...(t.execution !== undefined ? { execution_timeout: msToNs(t.execution) } : {}),
    max_executions: 1,
  };
  return { input, stepNames, ...(workspaceId !== undefined ? { workspaceId } : {}) };
}

function placeTerraformSource(plan: Json, spec: JobSpec): void {
  const dir = path.dirname(spec.file);
  const source = spec.source;
  if (source?.kind === "local") {
    delete plan.git_source;
    delete plan.source;
    plan.local_dir = source.dir;
  } else if (source?.kind === "git") {
    delete plan.local_dir;
    delete plan.source;
    plan.git_source = {
      url: source.url,
      ...(source.ref !== undefined ? { ref: source.ref } : {}),
      ...(source.path !== undefined ? { path: source.path } : {}),
      ...(source.recurseSubmodules !== undefined ? { recurse_submodules: source.recurseSubmodules } : {}),
    };
  } else if (typeof plan.local_dir === "string") {
    // A local_dir written in the plan itself is relative to the job file too.
    plan.local_dir = path.resolve(dir, plan.local_dir);
  }
}

/** A local chart directory (the job's source, or a relative `helm.chart`) becomes an absolute `helm.chart`. */
function placeChart(plan: Json, spec: JobSpec): void {
  const helm = objectAt(plan, "helm");
  if (spec.source?.kind === "local") helm.chart = spec.source.dir;
  else if (typeof helm.chart === "string" && /^\.\.?\//.test(helm.chart))
    helm.chart = path.resolve(path.dirname(spec.file), helm.chart);
}

function prepareWorkflow(
  plan: Json,
  spec: JobSpec,
  ctx: PrepareContext,
  stepNames: Map<string, string>,
): void {
  if (spec.steps !== undefined) plan.steps = spec.steps.map(stepPlan);
  const steps = Array.isArray(plan.steps) ? (plan.steps as unknown[]) : [];
  if (typeof plan.id !== "string" || plan.id === "") plan.id = `${ctx.runId}-${spec.name}`;
  if (typeof plan.install_id !== "string" || plan.install_id === "") plan.install_id = RUN_LOCAL_INSTALL_ID;
  const used = new Set<string>();
  for (const [index, raw] of steps.entries()) {
    if (!isObject(raw)) continue;
    const name = stepDisplayName(raw, index);
    let id =
      typeof raw.id === "string" && raw.id !== "" ? raw.id : typeof raw.run_id === "string" ? raw.run_id : "";
    if (id === "" || used.has(id)) {
      id = uniqueId(name.replace(/[^A-Za-z0-9._-]/g, "-") || `step-${index}`, used);
      raw.id = id;
    }
    used.add(id);
    stepNames.set(id, name);
    if (spec.source?.kind === "git" && raw.git_source == null) {
      raw.git_source = {
        url: spec.source.url,
        ...(spec.source.ref !== undefined ? { ref: spec.source.ref } : {}),
        ...(spec.source.path !== undefined ? { path: spec.source.path } : {}),
      };
    }
  }
}

function uniqueId(base: string, used: ReadonlySet<string>): string {
  if (!used.has(base)) return base;
  let n = 2;
  while (used.has(`${base}-${n}`)) n += 1;
  return `${base}-${n}`;
}

/** A step's name as the actions handler shows it: `attrs.name`, else `name`, else its index. */
function stepDisplayName(step: Json, index: number): string {
  const attrs = isObject(step.attrs) ? step.attrs : {};
  if (typeof attrs.name === "string" && attrs.name.trim() !== "") return attrs.name;
  if (typeof step.name === "string" && step.name.trim() !== "") return step.name;
  return String(index);
}

function stepPlan(step: StepSpec): Json {
  return {
    name: step.name,
    ...(step.run !== undefined ? { interpolated_inline_contents: step.run } : {}),
    ...(step.command !== undefined ? { interpolated_command: step.command } : {}),
    ...(step.env !== undefined ? { interpolated_env_vars: step.env } : {}),
    ...(step.timeoutMs !== undefined ? { timeout: msToNs(step.timeoutMs) } : {}),
  };
}

function objectAt(parent: Json, key: string): Json {
  const value = parent[key];
  if (isObject(value)) return value;
  const created: Json = {};
  parent[key] = created;
  return created;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
