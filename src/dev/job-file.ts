/**
 * Job files for `runner run-local` (docs/job-files.md): YAML or JSON, parsed with zod at the edge. Each file
 * lists jobs (name, type, operation, plan, source, timeouts, depends_on); sources that are local directories
 * resolve against the file's directory. Every problem is reported with its file and field path
 * (`examples/x.yaml: jobs[1].type: …`) in one JobFileError, which the command turns into exit 2.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import YAML from "yaml";
import * as z from "zod";
import { parseDurationMs } from "../config/duration.ts";
import { JOB_OPERATIONS } from "../control-plane/schemas.ts";
import { checkDag } from "./dag.ts";

/** Job names: a letter or digit first, then letters, digits, `.`, `_`, `-`; at most 63 characters. */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Job types whose plan takes a terraform module source (and may keep state in the control plane). */
export const TERRAFORM_TYPES: ReadonlySet<string> = new Set(["terraform-deploy", "sandbox-terraform"]);

const Duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDurationMs(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as "30s", "5m" or "1h", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const GitSource = z.strictObject({
  git: z.string().min(1),
  ref: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  recurse_submodules: z.boolean().optional(),
});

const Source = z.union([z.string().min(1), z.strictObject({ path: z.string().min(1) }), GitSource]);

const Step = z.strictObject({
  name: z.string().regex(JOB_NAME_PATTERN, "expected letters, digits, '.', '_' or '-' (at most 63)"),
  run: z.string().min(1).optional(),
  command: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  timeout: Duration.optional(),
});

const Job = z.strictObject({
  name: z.string().regex(JOB_NAME_PATTERN, "expected letters, digits, '.', '_' or '-' (at most 63)"),
  description: z.string().optional(),
  type: z.string().min(1),
  operation: z.enum(JOB_OPERATIONS).optional(),
  source: Source.optional(),
  state: z.enum(["control-plane", "local"]).optional(),
  plan: z.unknown().optional(),
  steps: z.array(Step).min(1).optional(),
  timeouts: z
    .strictObject({
      queue: Duration.optional(),
      available: Duration.optional(),
      execution: Duration.optional(),
    })
    .optional(),
  depends_on: z.array(z.string().min(1)).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** The schema of one job file. */
export const JobFileSchema = z.strictObject({
  version: z.literal(1).optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  jobs: z.array(Job).min(1),
});

/** Where a job's module or scripts come from, resolved. */
export type JobSource =
  | { kind: "local"; dir: string }
  | { kind: "git"; url: string; ref?: string; path?: string; recurseSubmodules?: boolean };

/** An action step as a job file writes it. */
export interface StepSpec {
  name: string;
  run?: string;
  command?: string;
  env?: Record<string, string>;
  /** ms. */
  timeoutMs?: number;
}

/** One job, validated and resolved. */
export interface JobSpec {
  name: string;
  /** Absolute path of the file it came from. */
  file: string;
  type: string;
  operation?: string;
  dependsOn: string[];
  /** The wire plan as written (undefined when the file has none). */
  plan: unknown;
  steps?: StepSpec[];
  source?: JobSource;
  /** Terraform jobs: where the state lives; default `control-plane`. Undefined for other types. */
  state?: "control-plane" | "local";
  /** ms each. */
  timeoutsMs: { queue?: number; available?: number; execution?: number };
  metadata?: Record<string, string>;
}

/** A job file could not be read or is invalid; `issues` are `file: field: problem` lines. Exit code 2. */
export class JobFileError extends Error {
  override readonly name = "JobFileError";
  /** Bad input: 2. */
  readonly exitCode = 2;
  readonly issues: readonly string[];
  constructor(issues: readonly string[], options?: ErrorOptions) {
    super(issues.join("\n"), options);
    this.issues = issues;
  }
}

/** Options of loadJobFiles. */
export interface LoadJobFilesOptions {
  /** Relative file paths resolve against this. */
  cwd: string;
  /** When given, a type outside it is an error at `jobs[i].type` naming what this runner handles. */
  knownTypes?: readonly string[];
}

/** Formats a zod issue path as `jobs[1].timeouts.execution`. */
export function formatPath(parts: readonly PropertyKey[]): string {
  let out = "";
  for (const part of parts) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(top level)" : out;
}

/** Reads, validates and resolves job files; throws JobFileError listing every problem. */
export async function loadJobFiles(files: readonly string[], opts: LoadJobFilesOptions): Promise<JobSpec[]> {
  if (files.length === 0) throw new JobFileError(["no job file given: pass one or more YAML or JSON files"]);
  const issues: string[] = [];
  const jobs: JobSpec[] = [];
  for (const file of files) {
    const abs = path.resolve(opts.cwd, file);
    const loaded = await loadOne(abs, file, opts, issues);
    jobs.push(...loaded);
  }
  const seen = new Map<string, string>();
  for (const job of jobs) {
    const other = seen.get(job.name);
    if (other !== undefined)
      issues.push(
        `${rel(opts.cwd, job.file)}: job name "${job.name}" is also used in ${rel(opts.cwd, other)}`,
      );
    seen.set(job.name, job.file);
  }
  if (issues.length === 0) {
    for (const problem of checkDag(jobs)) {
      if (problem.kind !== "duplicate-name") issues.push(`depends_on: ${problem.message}`);
    }
  }
  if (issues.length > 0) throw new JobFileError(issues);
  return jobs;
}

function rel(cwd: string, file: string): string {
  const r = path.relative(cwd, file);
  return r === "" || r.startsWith("..") ? file : r;
}

async function loadOne(
  abs: string,
  shown: string,
  opts: LoadJobFilesOptions,
  issues: string[],
): Promise<JobSpec[]> {
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (err as Error).message;
    issues.push(`${shown}: cannot read the job file: ${why}`);
    return [];
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    issues.push(`${shown}: not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
    return [];
  }
  const parsed = JobFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      issues.push(`${shown}: ${formatPath(issue.path)}: ${issue.message}`);
    return [];
  }
  const dir = path.dirname(abs);
  const out: JobSpec[] = [];
  for (const [index, job] of parsed.data.jobs.entries()) {
    const at = (field: string) => `${shown}: jobs[${index}].${field}`;
    const before = issues.length;
    if (opts.knownTypes !== undefined && !opts.knownTypes.includes(job.type)) {
      issues.push(
        `${at("type")}: this runner has no handler for job type "${job.type}" (it handles: ${[...opts.knownTypes].sort().join(", ")})`,
      );
    }
    const isTerraform = TERRAFORM_TYPES.has(job.type);
    if (job.state !== undefined && !isTerraform)
      issues.push(`${at("state")}: only terraform jobs (terraform-deploy, sandbox-terraform) keep state`);
    if (job.steps !== undefined && job.type !== "actions-workflow")
      issues.push(`${at("steps")}: only actions-workflow jobs have steps; put other plans under plan`);
    if (job.type === "actions-workflow" && job.steps === undefined && !hasSteps(job.plan))
      issues.push(`${at("steps")}: an actions-workflow job needs steps (or plan.steps)`);
    for (const [i, step] of (job.steps ?? []).entries()) {
      if ((step.run === undefined) === (step.command === undefined))
        issues.push(`${at(`steps[${i}]`)}: give exactly one of run (an inline script) or command`);
    }
    if (
      job.plan !== undefined &&
      (typeof job.plan !== "object" || job.plan === null || Array.isArray(job.plan))
    )
      issues.push(`${at("plan")}: expected an object (the job's wire plan)`);
    const source =
      job.source === undefined ? undefined : await resolveJobSource(job.source, dir, at("source"), issues);
    if (source !== undefined) {
      const problem = sourceProblem(job.type, source);
      if (problem !== undefined) issues.push(`${at("source")}: ${problem}`);
    }
    if (issues.length > before) continue;
    out.push({
      name: job.name,
      file: abs,
      type: job.type,
      ...(job.operation !== undefined ? { operation: job.operation } : {}),
      dependsOn: job.depends_on ?? [],
      plan: job.plan,
      ...(job.steps !== undefined ? { steps: job.steps.map(toStepSpec) } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(isTerraform ? { state: job.state ?? "control-plane" } : {}),
      timeoutsMs: { ...job.timeouts },
      ...(job.metadata !== undefined ? { metadata: job.metadata } : {}),
    });
  }
  return out;
}

/** Which sources a job type takes: terraform a module (local or git), helm a local chart, workflows git. */
function sourceProblem(type: string, source: JobSource): string | undefined {
  if (TERRAFORM_TYPES.has(type)) return undefined;
  if (type === "actions-workflow")
    return source.kind === "git"
      ? undefined
      : "actions-workflow jobs take a git source ({git: URL}); inline a local script with steps[].run";
  if (type === "helm-chart-deploy")
    return source.kind === "local"
      ? undefined
      : "helm-chart-deploy jobs take a local chart directory; for a chart repository set plan.helm.chart";
  return `${type} jobs take no source; put what the job needs in its plan`;
}

function hasSteps(plan: unknown): boolean {
  return typeof plan === "object" && plan !== null && Array.isArray((plan as { steps?: unknown }).steps);
}

function toStepSpec(step: z.infer<typeof Step>): StepSpec {
  return {
    name: step.name,
    ...(step.run !== undefined ? { run: step.run } : {}),
    ...(step.command !== undefined ? { command: step.command } : {}),
    ...(step.env !== undefined ? { env: step.env } : {}),
    ...(step.timeout !== undefined ? { timeoutMs: step.timeout } : {}),
  };
}

async function resolveJobSource(
  source: z.infer<typeof Source>,
  dir: string,
  at: string,
  issues: string[],
): Promise<JobSource | undefined> {
  if (typeof source === "object" && "git" in source) {
    return {
      kind: "git",
      url: source.git,
      ...(source.ref !== undefined ? { ref: source.ref } : {}),
      ...(source.path !== undefined ? { path: source.path } : {}),
      ...(source.recurse_submodules !== undefined ? { recurseSubmodules: source.recurse_submodules } : {}),
    };
  }
  const given = typeof source === "string" ? source : source.path;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given)) return { kind: "git", url: given };
  const abs = path.resolve(dir, given);
  const info = await stat(abs).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    issues.push(`${at}: "${given}" is not a directory (resolved against the job file to ${abs})`);
    return undefined;
  }
  return { kind: "local", dir: abs };
}
