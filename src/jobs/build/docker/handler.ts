/**
 * `docker-build`: builds the Dockerfile of the plan's git source with the kaniko executor and pushes the
 * image straight to `dst_registry:dst_tag` (`docker_build_plan {dockerfile, context, target, build_args}`,
 * both paths relative to the source directory). Without kaniko the job fails at once, saying so (no Docker daemon is used).
 * Credentials reach kaniko through a private DOCKER_CONFIG; the digest comes from kaniko's digest file.
 */
import { readFile } from "node:fs/promises";
import { baseEnv } from "../../../exec/env.ts";
import { runCommand } from "../../../exec/run-command.ts";
import { resolveRegistryCredentials } from "../../../sources/oci/auth.ts";
import {
  type ConnectedRepository,
  connectRepository,
  type RegistryConnectOptions,
} from "../../../sources/oci/connect.ts";
import { formatReference } from "../../../sources/oci/reference.ts";
import type { ResolvedSource } from "../../../sources/resolve.ts";
import { assertRealPathInside, resolveInside } from "../../../workspace/safe-path.ts";
import type { JobHandler } from "../../handler.ts";
import { artifactOutputs, type PushedArtifact } from "../outputs.ts";
import { type BuildPlan, destinationTag, parseBuildPlan } from "../plan.ts";
import { type BuildScratch, buildScratch } from "../scratch.ts";
import { fetchBuildSource } from "../source.ts";
import { kanikoCommand } from "./args.ts";
import { findKaniko, KANIKO_MISSING_MESSAGE, writeDockerConfig } from "./kaniko.ts";
import { parseDigestFile } from "./outputs.ts";

/** Options of the docker-build handler. */
export interface DockerBuildOptions {
  registry?: RegistryConnectOptions;
  /** The executor; default found by findKaniko. */
  kanikoPath?: string;
  /** Where `/kaniko/executor` is looked for first; default that path. */
  kanikoImagePath?: string;
  /** The runner's environment (allowlisted by baseEnv); default process.env. */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Build this local directory instead of the plan's git_source (run-local); default none. */
  localDir?: string;
}

/** Creates the docker-build handler. */
export function createDockerBuildHandler(options: DockerBuildOptions = {}): JobHandler<BuildPlan> {
  const processEnv = options.processEnv ?? process.env;
  let kaniko: string | undefined;
  let scratch: BuildScratch | undefined;
  let source: ResolvedSource | undefined;
  let destination: ConnectedRepository | undefined;
  let pushed: PushedArtifact | undefined;

  return {
    name: "docker-build",
    parsePlan: parseBuildPlan,

    async fetch(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return;
      kaniko = options.kanikoPath ?? (await findKaniko(processEnv.PATH, options.kanikoImagePath));
      if (kaniko === undefined) throw new Error(KANIKO_MISSING_MESSAGE);
      scratch = await buildScratch(ctx.workspaceDir, "docker-build");
      source = await fetchBuildSource({
        plan: ctx.plan,
        workspaceDir: scratch.dir,
        localDir: options.localDir,
        signal: ctx.signal,
        log: ctx.log,
      });
    },

    async validate(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return;
      destinationTag(ctx.plan);
      destination = connectRepository(ctx.plan.dst_registry, options.registry);
    },

    async execute(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) {
        ctx.log.info("sandbox mode: nothing is built");
        return;
      }
      if (
        kaniko === undefined ||
        scratch === undefined ||
        source === undefined ||
        destination === undefined
      ) {
        throw new Error("docker-build: fetch and validate did not run");
      }
      const tag = destinationTag(ctx.plan);
      const build = ctx.plan.docker_build_plan ?? {};
      const contextDir = await assertRealPathInside(
        source.dir,
        resolveInside(source.dir, build.context?.trim() || "."),
      );
      const dockerfile = await assertRealPathInside(
        source.dir,
        resolveInside(source.dir, build.dockerfile?.trim() || "Dockerfile"),
      );
      const digestFile = resolveInside(scratch.dir, "kaniko-digest");
      // ECR/ACR credentials come from the cloud at build time: kaniko gets the resolved registry login.
      const login = await resolveRegistryCredentials(destination.credentials, ctx.signal);
      const dockerConfig = await writeDockerConfig(
        resolveInside(scratch.dir, "docker-config"),
        destination.location.registry,
        login.credentials,
      );
      const command = kanikoCommand({
        contextDir,
        dockerfile,
        destination: formatReference({
          registry: destination.location.registry,
          repository: destination.repository,
          tag,
        }),
        digestFile,
        buildArgs: build.build_args,
        target: build.target,
        insecureRegistry: destination.location.scheme === "http",
      });
      ctx.log.info("building the image with kaniko", { executor: kaniko, args: command.args });
      const result = await runCommand({
        file: kaniko,
        args: command.args,
        cwd: contextDir,
        env: { ...baseEnv(processEnv), ...command.env, DOCKER_CONFIG: dockerConfig },
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        onLine: (line, stream) => ctx.log.line(line, stream),
      });
      if (result.failed) {
        const why = result.isCanceled
          ? "was cancelled"
          : result.exitCode === undefined
            ? `was killed (${result.signal ?? "signal"})`
            : `exited with code ${result.exitCode}`;
        const tail = result.stderrTail.length > 0 ? `: ${result.stderrTail.join(" | ")}` : "";
        throw new Error(`kaniko ${why}${tail}`);
      }
      const digest = parseDigestFile(await readFile(digestFile, "utf8").catch(() => undefined));
      pushed = { repository: destination.name, tag, digest };
      ctx.log.info("built and pushed the image", { ref: `${destination.name}:${tag}@${digest}` });
    },

    async outputs(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return { ...(ctx.plan.sandbox_mode.outputs ?? {}) };
      return pushed === undefined ? {} : artifactOutputs(pushed);
    },

    async cleanup() {
      await scratch?.release();
    },
  };
}
