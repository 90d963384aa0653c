/**
 * The shape shared by builds that package a source directory as an OCI artifact (terraform-module-build,
 * helm-chart-build): fetch the git source · validate the destination · execute: pack the directory
 * reproducibly (artifact.ts), push layer, config and manifest with the plan's labels as annotations (plus
 * the source URL and commit) · outputs: the pushed reference. Sandbox mode builds nothing and posts
 * `sandbox_mode.outputs`.
 */

import { ignoreGitMetadata, packDirectory } from "../../sources/oci/artifact.ts";
import {
  type ConnectedRepository,
  connectRepository,
  type RegistryConnectOptions,
} from "../../sources/oci/connect.ts";
import { ANNOTATION_REVISION, ANNOTATION_SOURCE } from "../../sources/oci/media-types.ts";
import type { ResolvedSource } from "../../sources/resolve.ts";
import { resolveInside } from "../../workspace/safe-path.ts";
import type { JobContext, JobHandler } from "../handler.ts";
import { artifactOutputs, type PushedArtifact, sortedRecord } from "./outputs.ts";
import { type BuildPlan, destinationTag, parseBuildPlan } from "./plan.ts";
import { pushArtifact } from "./push-artifact.ts";
import { type BuildScratch, buildScratch } from "./scratch.ts";
import { fetchBuildSource, safeUrl } from "./source.ts";

/** How one kind of package is made from its source directory. */
export interface PackageSpec {
  /** Directory the files go under inside the tarball (a chart's name); default none. */
  prefix?: string;
  layerMediaType: string;
  config: { mediaType: string; bytes: Uint8Array };
  /** The plan's labels for this kind. */
  labels: Record<string, string>;
  /** Leaves paths out of the package; default `.git`. */
  ignore?: (relativePath: string, isDirectory: boolean) => boolean;
}

/** One kind of package build. */
export interface PackageKind {
  /** Handler name (logs, error metadata). */
  name: string;
  /** Works out the package from the plan and the fetched source; throws naming what is wrong. */
  describe(plan: BuildPlan, sourceDir: string): Promise<PackageSpec>;
}

/** Options of package build handlers. */
export interface PackageBuildOptions {
  /** Dispatcher, chunk size, timeouts of registry requests. */
  registry?: RegistryConnectOptions;
  /** Build this local directory instead of the plan's git_source (run-local); default none. */
  localDir?: string;
}

/** Creates a handler building `kind` (see the module comment). */
export function createPackageBuildHandler(
  kind: PackageKind,
  options: PackageBuildOptions = {},
): JobHandler<BuildPlan> {
  let scratch: BuildScratch | undefined;
  let source: ResolvedSource | undefined;
  let destination: ConnectedRepository | undefined;
  let pushed: PushedArtifact | undefined;
  let files: string[] = [];
  const sandboxed = (ctx: JobContext<BuildPlan>) => ctx.plan.sandbox_mode?.enabled === true;

  return {
    name: kind.name,
    parsePlan: parseBuildPlan,

    async fetch(ctx) {
      if (sandboxed(ctx)) return;
      scratch = await buildScratch(ctx.workspaceDir, kind.name);
      source = await fetchBuildSource({
        plan: ctx.plan,
        workspaceDir: scratch.dir,
        localDir: options.localDir,
        signal: ctx.signal,
        log: ctx.log,
      });
    },

    async validate(ctx) {
      if (sandboxed(ctx)) return;
      destinationTag(ctx.plan);
      destination = connectRepository(ctx.plan.dst_registry, options.registry);
    },

    async execute(ctx) {
      if (sandboxed(ctx)) {
        ctx.log.info("sandbox mode: nothing is built");
        return;
      }
      if (scratch === undefined || source === undefined || destination === undefined)
        throw new Error(`${kind.name}: fetch and validate did not run`);
      const tag = destinationTag(ctx.plan);
      const spec = await kind.describe(ctx.plan, source.dir);
      const outFile = resolveInside(scratch.dir, "artifact.tar.gz");
      const packed = await packDirectory({
        dir: source.dir,
        outFile,
        ...(spec.prefix === undefined ? {} : { prefix: spec.prefix }),
        ignore: spec.ignore ?? ignoreGitMetadata,
        signal: ctx.signal,
      });
      files = packed.files;
      ctx.log.info("packed the source", {
        files: packed.files.length,
        bytes: packed.size,
        digest: packed.digest,
      });
      const annotations = sortedRecord({
        ...spec.labels,
        ...(ctx.plan.git_source ? { [ANNOTATION_SOURCE]: safeUrl(ctx.plan.git_source.url) } : {}),
        ...(source.commit ? { [ANNOTATION_REVISION]: source.commit } : {}),
      });
      ctx.log.info("pushing the artifact", { repository: destination.name, tag });
      const manifest = await pushArtifact({
        repo: destination,
        tag,
        layer: { file: outFile, digest: packed.digest, size: packed.size, mediaType: spec.layerMediaType },
        config: spec.config,
        annotations,
        signal: ctx.signal,
      });
      pushed = { repository: destination.name, tag, digest: manifest.digest };
      ctx.log.info("pushed the artifact", { ref: `${destination.name}:${tag}@${manifest.digest}` });
    },

    async outputs(ctx) {
      if (sandboxed(ctx)) return { ...(ctx.plan.sandbox_mode?.outputs ?? {}) };
      if (pushed === undefined) return {};
      return artifactOutputs(pushed, { files });
    },

    async cleanup() {
      await scratch?.release();
    },
  };
}
