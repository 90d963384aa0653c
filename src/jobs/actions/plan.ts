/**
 * The plan of an `actions-workflow` job: ActionWorkflowRunPlan (PROTOCOL.md §1.8). Every field is optional
 * except `steps`; unknown fields are kept. A step runs inline contents (a script) or a command, optionally
 * inside a git source.
 */
import * as z from "zod";
import { DurationNs } from "../../control-plane/schemas.ts";
import { GitSourcePlan } from "../../sources/resolve.ts";

const StringMap = z.record(z.string(), z.string());

/** One step of the plan. */
export const ActionStepPlan = z.looseObject({
  /** The step run's id: the `{step_id}` of the status PUT (with `id` as a fallback). */
  run_id: z.string().nullish(),
  id: z.string().nullish(),
  name: z.string().nullish(),
  attrs: z.record(z.string(), z.unknown()).nullish(),
  interpolated_env_vars: StringMap.nullish(),
  git_source: GitSourcePlan.nullish(),
  interpolated_inline_contents: z.string().nullish(),
  interpolated_command: z.string().nullish(),
  /** Per-step timeout in nanoseconds; none when absent or 0. */
  timeout: z.nullish(DurationNs),
});
export type ActionStepPlan = z.infer<typeof ActionStepPlan>;

/** ActionWorkflowRunPlan. */
export const ActionWorkflowRunPlan = z.looseObject({
  /** The workflow run's id: the `{workflow_run_id}` of the step status PUTs. */
  id: z.string().nullish(),
  install_id: z.string().nullish(),
  attrs: z.record(z.string(), z.unknown()).nullish(),
  steps: z.array(ActionStepPlan),
  builtin_env_vars: StringMap.nullish(),
  override_env_vars: StringMap.nullish(),
  cluster_info: z.looseObject({ kube_config: z.string().nullish() }).nullish(),
  aws_auth: z.unknown().nullish(),
  sandbox_mode: z
    .looseObject({ enabled: z.boolean().nullish(), outputs: z.record(z.string(), z.unknown()).nullish() })
    .nullish(),
});
export type ActionWorkflowRunPlan = z.infer<typeof ActionWorkflowRunPlan>;

/** The step's name: `attrs.name`, else `name`, else its index (`"0"`, `"1"` …). */
export function stepName(step: ActionStepPlan, index: number): string {
  const fromAttrs = step.attrs?.name;
  if (typeof fromAttrs === "string" && fromAttrs.trim() !== "") return fromAttrs;
  if (typeof step.name === "string" && step.name.trim() !== "") return step.name;
  return String(index);
}

/** The step's id for status PUTs: `id`, else `run_id`; undefined when it has neither. */
export function stepId(step: ActionStepPlan): string | undefined {
  return step.id || step.run_id || undefined;
}
