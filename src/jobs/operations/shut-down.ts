/**
 * `shut-down` and `update-version` (operations group): nothing to execute; once the execution's terminal
 * status is delivered the runner drains and exits 0 so its supervisor (systemd, Kubernetes, ECS) restarts it,
 * on the image tag the settings now name. `metadata.shutdown_type=force` skips waiting for other running jobs
 * (they are aborted with reason `drain`). Nuon's runner also PATCHes the *job* `finished` for a forced
 * shut-down; the control plane derives the job status from the execution anyway, so this runner does not.
 */
import * as z from "zod/mini";
import type { JobHandler } from "../handler.ts";

const AnyPlan = z.unknown();

/** Creates the handler for `shut-down` (`kind` "shut-down") or `update-version` (`kind` "update-version"). */
export function createShutDownHandler(kind: "shut-down" | "update-version"): JobHandler<unknown> {
  return {
    name: kind,
    needsWorkspace: false,
    parsePlan: (raw) => AnyPlan.parse(raw),
    async execute(ctx) {
      ctx.log.info(
        kind === "shut-down"
          ? "shut-down requested: the runner exits after this job"
          : "version update requested: the runner exits after this job so its supervisor restarts it",
        { shutdownType: ctx.job.metadata?.shutdown_type ?? "graceful" },
      );
    },
    afterFinished(ctx, status) {
      if (status !== "finished") return;
      const force = ctx.job.metadata?.shutdown_type === "force";
      ctx.runnerState.requestExit(`${kind} job ${ctx.job.id}`, { force });
    },
  };
}
