/**
 * `oci-sync`: copies `src_registry:src_tag` to `dst_registry:dst_tag` (dst_tag defaults to src_tag), every
 * platform of an index, mounting blobs when both repositories are on one registry and skipping blobs the
 * destination has; the manifest bytes (and so the digest) are unchanged. Used to bring build artifacts into
 * an install's own registry.
 */
import {
  type ConnectedRepository,
  connectRepository,
  type RegistryConnectOptions,
} from "../../../sources/oci/connect.ts";
import { copyImage } from "../../../sources/oci/copy.ts";
import { logCopyProgress } from "../../build/copy-log.ts";
import { artifactOutputs, type PushedArtifact } from "../../build/outputs.ts";
import type { JobHandler } from "../../handler.ts";
import { parseSyncOciPlan, type SyncOciPlan } from "./plan.ts";

/** Options of the oci-sync handler. */
export interface OciSyncOptions {
  registry?: RegistryConnectOptions;
}

function tags(plan: SyncOciPlan): { from: string; to: string } {
  const from = plan.src_tag?.trim() ?? "";
  if (from === "") throw new Error("the sync plan has no src_tag; nothing to copy");
  const to = plan.dst_tag?.trim() || from;
  return { from, to };
}

/** Creates the oci-sync handler. */
export function createOciSyncHandler(options: OciSyncOptions = {}): JobHandler<SyncOciPlan> {
  let source: ConnectedRepository | undefined;
  let destination: ConnectedRepository | undefined;
  let pushed: PushedArtifact | undefined;
  let platforms: string[] = [];

  return {
    name: "oci-sync",
    needsWorkspace: false,
    parsePlan: parseSyncOciPlan,

    async validate(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) return;
      tags(ctx.plan);
      source = connectRepository(ctx.plan.src_registry, options.registry);
      destination = connectRepository(ctx.plan.dst_registry, options.registry);
    },

    async execute(ctx) {
      if (ctx.plan.sandbox_mode?.enabled === true) {
        ctx.log.info("sandbox mode: nothing is synced");
        return;
      }
      if (source === undefined || destination === undefined)
        throw new Error("oci-sync: validate did not run");
      const { from, to } = tags(ctx.plan);
      ctx.log.info("syncing the artifact", {
        from: `${source.name}:${from}`,
        to: `${destination.name}:${to}`,
      });
      const result = await copyImage({
        from: { client: source.client, repository: source.repository },
        reference: from,
        to: { client: destination.client, repository: destination.repository },
        tag: to,
        signal: ctx.signal,
        onProgress: logCopyProgress(ctx.log),
      });
      platforms = result.platforms;
      pushed = { repository: destination.name, tag: to, digest: result.digest };
      ctx.log.info("synced the artifact", {
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
