/**
 * Terraform command lines, as argv arrays (pure). Every command that terraform can run in machine mode runs
 * with `-json` so progress comes from its event stream; nothing here ever carries a secret: variables go in a
 * tfvars file, backend credentials in the environment (see backend.ts).
 */

/** `terraform init`: non-interactive, JSON events (terraform >= 1.9). */
export function initArgs(): string[] {
  return ["init", "-input=false", "-json", "-no-color"];
}

/** Options of a plan. */
export interface PlanArgsOptions {
  /** Where the saved plan is written. */
  out: string;
  /** A destroy plan (`create-teardown-plan`). */
  destroy?: boolean;
  /** Var files passed with -var-file, in order (later files win). */
  varFiles?: readonly string[];
}

/** `terraform plan -out=…`, optionally `-destroy`. */
export function planArgs(options: PlanArgsOptions): string[] {
  return [
    "plan",
    "-input=false",
    "-json",
    ...(options.destroy ? ["-destroy"] : []),
    `-out=${options.out}`,
    ...varFileArgs(options.varFiles),
  ];
}

/** `terraform apply` of a saved plan: exactly that plan, no variables (the plan carries its own). */
export function applySavedPlanArgs(planFile: string): string[] {
  return ["apply", "-input=false", "-json", "-auto-approve", planFile];
}

/** `terraform apply` that plans and applies in one go. */
export function applyArgs(options: { varFiles?: readonly string[] } = {}): string[] {
  return ["apply", "-input=false", "-json", "-auto-approve", ...varFileArgs(options.varFiles)];
}

/** `terraform show -json <planFile>`, or of the current state when `planFile` is absent. */
export function showJsonArgs(planFile?: string): string[] {
  return ["show", "-json", "-no-color", ...(planFile === undefined ? [] : [planFile])];
}

/** `terraform output -json`: every root output with its `sensitive` flag and value. */
export function outputJsonArgs(): string[] {
  return ["output", "-json", "-no-color"];
}

function varFileArgs(files: readonly string[] | undefined): string[] {
  return (files ?? []).map((file) => `-var-file=${file}`);
}
