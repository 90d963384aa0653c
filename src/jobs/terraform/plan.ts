/**
 * The terraform plans (PROTOCOL.md §1.8): `terraform-deploy` gets a DeployPlan whose settings sit under
 * `terraform`, `sandbox-terraform` a SandboxRunPlan with the same settings at the top level. Both are parsed
 * with zod (a bad field is named) and normalized into one `TerraformJobPlan`.
 *
 * Runner extensions (not sent by Nuon's control plane; for `run-local` job files):
 * - `local_dir` (or `source: {path}`): a module directory on the runner's machine, used before anything else;
 * - `var_file_paths`: var files inside the module (relative paths; must stay inside it), passed with -var-file;
 * - `git_source` on a DeployPlan (Nuon sends it only on SandboxRunPlan);
 * - `src_tag` may be a digest (`sha256:…`), which pins the OCI artifact.
 */
import * as z from "zod";
import { TerraformBackendConfig } from "../../control-plane/go-keys.ts";
import { GitSourcePlan } from "../../sources/resolve.ts";
import { tagOrDigest } from "../oci-source.ts";

/** Where the module comes from, in the order the handler looks: local directory, git, OCI artifact. */
export type ModuleSource =
  | { kind: "local"; dir: string }
  | { kind: "git"; url: string; ref?: string; path?: string; recurseSubmodules?: boolean }
  | { kind: "oci"; registry: unknown; tag?: string; digest?: string }
  | { kind: "local-archive"; archive: string };

/** A terraform job's plan, normalized from either wire shape. */
export interface TerraformJobPlan {
  source: ModuleSource;
  /** Root-module variables, written to `runner.auto.tfvars.json` (never passed as -var flags). */
  vars: Record<string, unknown>;
  /** Contents of var files, each written to the workspace and passed with -var-file. */
  varsFiles: string[];
  /** Runner extension: var files inside the module, relative to it. */
  varFilePaths: string[];
  /** Environment variables for every terraform command. */
  envVars: Record<string, string>;
  /** The control plane's terraform workspace: set → http backend with remote state; unset → local state. */
  workspaceId?: string;
  /** The saved plan to apply (`apply-plan`): std base64 of the tfplan, or base64url(gzip(tfplan)). */
  applyPlanContents?: string;
}

/** Go marshals nil maps and slices as `null`; treat them as absent. */
const nullishRecord = <T extends z.ZodType>(value: T) => z.record(z.string(), value).nullish();

/** The settings both plan shapes share. */
const settingsShape = {
  vars: nullishRecord(z.unknown()),
  env_vars: nullishRecord(z.string()),
  vars_files: z.array(z.string()).nullish(),
  var_file_paths: z.array(z.string().min(1)).nullish(),
  terraform_backend: TerraformBackendConfig.nullish(),
};

/** The source fields both plan shapes may carry. */
const sourceShape = {
  local_dir: z.string().min(1).nullish(),
  source: z.looseObject({ path: z.string().min(1) }).nullish(),
  git_source: GitSourcePlan.nullish(),
  src_registry: z.unknown().optional(),
  src_tag: z.string().nullish(),
  apply_plan_contents: z.string().nullish(),
};

/** DeployPlan (terraform-deploy): settings under `terraform`. */
export const TerraformDeployPlanSchema = z.looseObject({
  ...sourceShape,
  terraform: z.looseObject(settingsShape),
});

/** SandboxRunPlan (sandbox-terraform): settings at the top level, plus `local_archive`. */
export const SandboxRunPlanSchema = z.looseObject({
  ...sourceShape,
  ...settingsShape,
  local_archive: z.looseObject({ local_archive: z.string().nullish() }).nullish(),
});

type Settings = z.infer<z.ZodObject<typeof settingsShape>>;
type Sources = z.infer<z.ZodObject<typeof sourceShape>> & {
  local_archive?: { local_archive?: string | null } | null;
};

/** Which wire shape a job's plan has. */
export type TerraformPlanVariant = "deploy" | "sandbox";

/** Parses a raw plan of `variant`; throws a ZodError naming the field, or an Error when no source is given. */
export function parseTerraformPlan(variant: TerraformPlanVariant, raw: unknown): TerraformJobPlan {
  if (variant === "deploy") {
    const plan = TerraformDeployPlanSchema.parse(raw);
    return normalize(plan, plan.terraform);
  }
  const plan = SandboxRunPlanSchema.parse(raw);
  return normalize(plan, plan);
}

function normalize(sources: Sources, settings: Settings): TerraformJobPlan {
  const workspaceId = settings.terraform_backend?.WorkspaceID;
  return {
    source: moduleSource(sources),
    vars: settings.vars ?? {},
    varsFiles: settings.vars_files ?? [],
    varFilePaths: settings.var_file_paths ?? [],
    envVars: settings.env_vars ?? {},
    ...(workspaceId ? { workspaceId } : {}),
    ...(sources.apply_plan_contents ? { applyPlanContents: sources.apply_plan_contents } : {}),
  };
}

function moduleSource(plan: Sources): ModuleSource {
  const local = plan.local_dir ?? plan.source?.path;
  if (local) return { kind: "local", dir: local };
  const git = plan.git_source;
  if (git) {
    return {
      kind: "git",
      url: git.url,
      ...(git.ref ? { ref: git.ref } : {}),
      ...(git.path ? { path: git.path } : {}),
      ...(git.recurse_submodules ? { recurseSubmodules: true } : {}),
    };
  }
  if (plan.local_archive?.local_archive)
    return { kind: "local-archive", archive: plan.local_archive.local_archive };
  if (plan.src_registry !== undefined && plan.src_registry !== null) {
    return { kind: "oci", registry: plan.src_registry, ...tagOrDigest(plan.src_tag) };
  }
  throw new Error(
    "the plan names no terraform module: set src_registry/src_tag, git_source, or (runner extension) local_dir",
  );
}
