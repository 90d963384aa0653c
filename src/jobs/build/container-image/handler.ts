/**
 * `container-image-build`: copies an existing image (`container_image_pull_plan {image, tag, repo_config}`)
 * into `dst_registry:dst_tag`, registry to registry: every platform of a multi-arch index, blobs mounted when
 * both repositories are on one registry, the manifest bytes unchanged (same digest). The source is
 * `repo_config` (its `Repository` defaulting to `image`), or `image` alone as a public reference; the tag is
 * the plan's `tag`, else the one in `image`, else `latest` (a digest in `image` wins over both).
 */
import {
  type ConnectedRepository,
  connectRepository,
  type RegistryConnectOptions,
} from "../../../sources/oci/connect.ts";
import { copyImage } from "../../../sources/oci/copy.ts";
import { parseReference } from "../../../sources/oci/reference.ts";
import type { JobHandler } from "../../handler.ts";
import { logCopyProgress } from "../copy-log.ts";
import { artifactOutputs, type PushedArtifact } from "../outputs.ts";
import { type BuildPlan, destinationTag, parseBuildPlan } from "../plan.ts";

/** Options of the container-image-build handler. */
export interface ContainerImageBuildOptions {
  registry?: RegistryConnectOptions;
}

/** The source repository and reference of a pull plan; throws naming what is missing. */
export function imageSource(
  plan: BuildPlan,
  registry: RegistryConnectOptions = {},
): { repo: ConnectedRepository; reference: string } {
  const pull = plan.container_image_pull_plan;
  if (pull === undefined || pull === null)
    throw new Error("the build plan has no container_image_pull_plan; nothing to copy");
  const image = pull.image?.trim() ?? "";
  const parsed = image === "" ? undefined : parseReference(image);
  const config =
    typeof pull.repo_config === "object" && pull.repo_config !== null
      ? { ...(pull.repo_config as Record<string, unknown>) }
      : {};
  const hasRepository = Object.keys(config).some(
    (key) => key.toLowerCase() === "repository" && typeof config[key] === "string" && config[key] !== "",
  );
  if (!hasRepository) {
    if (parsed === undefined)
      throw new Error("the container_image_pull_plan names neither an image nor repo_config.Repository");
    config.Repository = `${parsed.scheme === "http" ? "http://" : ""}${parsed.registry}/${parsed.repository}`;
  }
  const reference = parsed?.digest ?? (pull.tag?.trim() || undefined) ?? parsed?.tag ?? "latest";
  return { repo: connectRepository(config, registry), reference };
}

/** Creates the container-image-build handler. */
export function createContainerImageBuildHandler(
  options: ContainerImageBuildOptions = {},
): JobHandler<BuildPlan> {
  let source: { repo: ConnectedRepository; reference: string } | undefined;
  let destination: ConnectedRepository | undefined;
  let pushed: PushedArtifact | undefined;
  let platforms: string[] = [];

  return {
    name: "container-image-build",
    parsePlan: parseBuildPlan,

    async validate(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return;
      destinationTag(ctx.plan);
      source = imageSource(ctx.plan, options.registry);
      destination = connectRepository(ctx.plan.dst_registry, options.registry);
    },

    async execute(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) {
        ctx.log.info("sandbox mode: nothing is copied");
        return;
      }
      if (source === undefined || destination === undefined)
        throw new Error("container-image-build: validate did not run");
      const tag = destinationTag(ctx.plan);
      ctx.log.info("copying the image", {
        from: `${source.repo.name}:${source.reference}`,
        to: `${destination.name}:${tag}`,
      });
      const result = await copyImage({
        from: { client: source.repo.client, repository: source.repo.repository },
        reference: source.reference,
        to: { client: destination.client, repository: destination.repository },
        tag,
        signal: ctx.signal,
        onProgress: logCopyProgress(ctx.log),
      });
      platforms = result.platforms;
      pushed = { repository: destination.name, tag, digest: result.digest };
      ctx.log.info("copied the image", {
        digest: result.digest,
        platforms: result.platforms,
        ...result.blobs,
      });
    },

    async outputs(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return { ...(ctx.plan.sandbox_mode.outputs ?? {}) };
      return pushed === undefined ? {} : artifactOutputs(pushed, { platforms });
    },
  };
}
