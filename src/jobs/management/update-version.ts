/**
 * `mng-runner-update-version`: installs a new runner binary and keeps it only if the runner comes back
 * healthy on it.
 *
 * 1. Resolve the source (plan.ts): URL, sha256 (else `<url>.sha256`), expected version.
 * 2. Download to `<binary>.new` with undici (TLS verified), verify the sha256 (mismatch: the job fails and
 *    nothing is swapped), run `<binary>.new version` (it must run here and report the expected version).
 *    The same bytes as the installed binary: nothing to do.
 * 3. Under the service gate: swap (`.previous` kept, rename, fsync), `systemctl restart` (the old runner
 *    drains), then wait up to RUNNER_UPDATE_HEALTH_TIMEOUT (default 2 min) for the health signal of
 *    src/mng/update-health.ts. Unhealthy: put `.previous` back, restart again, fail the job naming why.
 *
 * Once the binary is swapped, restart, health check and rollback run to the end even if the job is
 * cancelled or times out meanwhile, so the machine is never left on an unverified binary.
 */
import { rm } from "node:fs/promises";
import { formatDurationMs } from "../../config/duration.ts";
import {
  ChecksumMismatchError,
  downloadVerified,
  fetchSha256Sidecar,
  sha256OfFile,
} from "../../mng/binary-download.ts";
import { binaryPaths, rollBackBinary, swapInNewBinary } from "../../mng/binary-swap.ts";
import { readBinaryVersion } from "../../mng/binary-version.ts";
import { loadServiceTarget } from "../../mng/service-target.ts";
import { waitForHealthyRunner } from "../../mng/update-health.ts";
import type { JobContext, JobHandler } from "../handler.ts";
import type { ManagementDeps } from "./deps.ts";
import { needsSettings, resolveUpdateSource, type UpdateSource, UpdateVersionPlan } from "./plan.ts";

/** The URL without its query (presigned URLs carry credentials there), for logs and messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "<invalid URL>";
  }
}

async function resolveSource(ctx: JobContext<UpdateVersionPlan>): Promise<UpdateSource> {
  const settings = needsSettings(ctx.plan, ctx.job.metadata)
    ? await ctx.client.getSettings({ signal: ctx.signal })
    : undefined;
  const source = resolveUpdateSource(ctx.plan, ctx.job.metadata, settings);
  if (source === undefined) {
    throw new Error(
      "no binary to install: the plan, the job metadata and the runner settings name no runner_binary_url",
    );
  }
  return source;
}

/** Creates the `mng-runner-update-version` handler. */
export function createMngUpdateVersionHandler(deps: ManagementDeps): JobHandler<UpdateVersionPlan> {
  const env = deps.env ?? process.env;
  return {
    name: "mng-runner-update-version",
    needsWorkspace: false,
    parsePlan: (raw) => UpdateVersionPlan.parse(raw),
    async execute(ctx) {
      const source = await resolveSource(ctx);
      const target = await loadServiceTarget(deps.target);
      const paths = binaryPaths(target.binary);
      const sha256 = source.sha256 ?? (await fetchSha256Sidecar(source.url, ctx.signal));
      ctx.log.info("downloading the new runner binary", {
        url: shown(source.url),
        from: source.from,
        sha256,
      });
      try {
        await downloadVerified({ url: source.url, sha256, dest: paths.next, signal: ctx.signal });
      } catch (err) {
        if (err instanceof ChecksumMismatchError) throw err;
        throw new Error(`downloading ${shown(source.url)} failed: ${(err as Error).message}`, { cause: err });
      }
      let version: string;
      try {
        version = await readBinaryVersion(paths.next, { signal: ctx.signal, env });
        if (source.version !== undefined && version !== source.version) {
          throw new Error(`the new binary reports version ${version}, expected ${source.version}`);
        }
      } catch (err) {
        await rm(paths.next, { force: true });
        throw new Error(`${(err as Error).message}; the binary was not replaced`, { cause: err });
      }
      ctx.outputs.version = version;
      ctx.outputs.sha256 = sha256;
      if ((await sha256OfFile(target.binary)) === sha256) {
        await rm(paths.next, { force: true });
        ctx.log.info("the service already runs this binary; nothing to do", { version });
        ctx.outputs.updated = false;
        return;
      }
      const previousVersion = await readBinaryVersion(target.binary, { env }).catch(() => undefined);
      if (previousVersion !== undefined) ctx.outputs.previous_version = previousVersion;

      // From the swap on, nothing aborts: the machine must end on a verified binary.
      await deps.gate.exclusive(async () => {
        const { keptPrevious } = await swapInNewBinary(target.binary);
        ctx.log.info("swapped in the new binary; restarting the runner (it drains first)", {
          binary: target.binary,
          version,
          previousVersion,
        });
        await deps.systemctl.restart(target.unit);
        const health = await waitForHealthyRunner({
          systemctl: deps.systemctl,
          unit: target.unit,
          binary: target.binary,
          expectedVersion: version,
          timeoutMs: deps.update.timeoutMs,
          settleMs: deps.update.settleMs,
          ...(deps.update.probeIntervalMs !== undefined
            ? { probeIntervalMs: deps.update.probeIntervalMs }
            : {}),
          ...(deps.update.readyUrl !== undefined ? { readyUrl: deps.update.readyUrl } : {}),
        });
        if (health.healthy) {
          ctx.log.info("the runner is healthy on the new version", { version, elapsedMs: health.elapsedMs });
          ctx.outputs.updated = true;
          return;
        }
        const within = formatDurationMs(deps.update.timeoutMs);
        if (!keptPrevious) {
          throw new Error(
            `version ${version} did not become healthy within ${within} (${health.reason}); there was no previous binary to roll back to`,
          );
        }
        ctx.log.error("the new version is not healthy; rolling back", { version, reason: health.reason });
        await rollBackBinary(target.binary);
        await deps.systemctl.restart(target.unit);
        throw new Error(
          `version ${version} did not become healthy within ${within} (${health.reason}); rolled back to ${previousVersion ?? "the previous binary"} and restarted ${target.unit}`,
        );
      });
    },
  };
}
