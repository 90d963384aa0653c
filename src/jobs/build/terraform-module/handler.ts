/**
 * `terraform-module-build`: the module directory of the plan's git source (its `path`), packed reproducibly
 * as one tar.gz layer (`application/vnd.nuon.terraform.module.v1.tar+gzip`, paths relative to the module,
 * `.git` and `.terraform` left out) with a config (`application/vnd.nuon.terraform.module.config.v1+json`,
 * `{"labels": …}`), the plan's `terraform_build_plan.Labels` as manifest annotations, pushed to
 * `dst_registry:dst_tag`. Deploys fetch it back with fetchOciSource.
 */
import {
  NUON_TERRAFORM_MODULE_CONFIG,
  NUON_TERRAFORM_MODULE_LAYER,
} from "../../../sources/oci/media-types.ts";
import type { JobHandler } from "../../handler.ts";
import { sortedRecord } from "../outputs.ts";
import { createPackageBuildHandler, type PackageBuildOptions } from "../package-handler.ts";
import type { BuildPlan } from "../plan.ts";

/** Leaves out `.git` and `.terraform` (provider caches) at any depth. */
export function ignoreTerraformClutter(relativePath: string): boolean {
  return relativePath.split("/").some((part) => part === ".git" || part === ".terraform");
}

/** Creates the terraform-module-build handler. */
export function createTerraformModuleBuildHandler(options: PackageBuildOptions = {}): JobHandler<BuildPlan> {
  return createPackageBuildHandler(
    {
      name: "terraform-module-build",
      async describe(plan) {
        const labels = sortedRecord(plan.terraform_build_plan?.Labels);
        return {
          layerMediaType: NUON_TERRAFORM_MODULE_LAYER,
          config: { mediaType: NUON_TERRAFORM_MODULE_CONFIG, bytes: Buffer.from(JSON.stringify({ labels })) },
          labels,
          ignore: ignoreTerraformClutter,
        };
      },
    },
    options,
  );
}
