/**
 * The build plan (`BuildPlan`, PROTOCOL.md §1.8), shared by the build job types: `git_source`, the
 * destination (`dst_registry` + `dst_tag`), and one of `terraform_build_plan {"Labels"}`,
 * `helm_build_plan {"Labels","HelmRepoConfig"}` (Go field names, matched case-insensitively),
 * `docker_build_plan {build_args, target, context, dockerfile}` or
 * `container_image_pull_plan {image, tag, repo_config}`. Registry configs stay raw here: connect.ts parses them.
 */
import * as z from "zod";
import { caseInsensitiveKeys } from "../../control-plane/go-keys.ts";
import { GitSourcePlan } from "../../sources/resolve.ts";

const Labels = z.record(z.string(), z.string()).nullish();

/** `sandbox_mode`: when enabled, nothing is built; the outputs come from the plan. */
export const SandboxMode = z
  .looseObject({ enabled: z.boolean().nullish(), outputs: z.record(z.string(), z.unknown()).nullish() })
  .nullish();

/** The build plan. */
export const BuildPlan = z.looseObject({
  component_id: z.string().nullish(),
  component_build_id: z.string().nullish(),
  git_source: GitSourcePlan.nullish(),
  /** An `OCIRegistryRepository` (see src/sources/oci/registry-config.ts). */
  dst_registry: z.unknown().optional(),
  dst_tag: z.string().nullish(),
  terraform_build_plan: caseInsensitiveKeys(z.looseObject({ Labels })).nullish(),
  helm_build_plan: caseInsensitiveKeys(
    z.looseObject({ Labels, HelmRepoConfig: z.unknown().optional() }),
  ).nullish(),
  docker_build_plan: z
    .looseObject({
      build_args: z.record(z.string(), z.string().nullable()).nullish(),
      target: z.string().nullish(),
      context: z.string().nullish(),
      dockerfile: z.string().nullish(),
    })
    .nullish(),
  container_image_pull_plan: z
    .looseObject({
      image: z.string().nullish(),
      tag: z.string().nullish(),
      /** An `OCIRegistryRepository` for the source registry. */
      repo_config: z.unknown().optional(),
    })
    .nullish(),
  sandbox_mode: SandboxMode,
});
export type BuildPlan = z.infer<typeof BuildPlan>;

/** Parses a build plan; a missing plan is an error naming what is needed. */
export function parseBuildPlan(raw: unknown): BuildPlan {
  return BuildPlan.parse(raw ?? {});
}

/** The destination tag; throws when the plan has none. */
export function destinationTag(plan: BuildPlan): string {
  const tag = plan.dst_tag?.trim() ?? "";
  if (tag === "")
    throw new Error("the build plan has no dst_tag; the control plane must say which tag to push");
  return tag;
}
