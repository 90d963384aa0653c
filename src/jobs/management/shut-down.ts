/**
 * `mng-shut-down`: nothing to execute. Once the execution's `finished` status is delivered, the management
 * process closes the service gate (the reconcile loop stops starting the runner), stops the runner service
 * (`systemctl stop`: the runner drains through KillMode=mixed/TimeoutStopSec), then drains and exits 0 itself.
 * Nuon's runner only exits here and lets its supervisor restart it; this one takes the whole VM runner down,
 * so run `runner mng` with Restart=on-failure to let it stay down.
 */
import * as z from "zod";
import { loadServiceTarget } from "../../mng/service-target.ts";
import type { JobHandler } from "../handler.ts";
import type { ManagementDeps } from "./deps.ts";

/** Stops the runner service under the gate (closed first, for good); resolves with the unit stopped. */
export async function stopRunnerService(deps: ManagementDeps, reason: string): Promise<string> {
  deps.gate.close(reason);
  return deps.gate.exclusive(async () => {
    const target = await loadServiceTarget(deps.target);
    await deps.systemctl.stop(target.unit);
    return target.unit;
  });
}

/** Creates the `mng-shut-down` handler. */
export function createMngShutDownHandler(deps: ManagementDeps): JobHandler<unknown> {
  return {
    name: "mng-shut-down",
    needsWorkspace: false,
    parsePlan: (raw) => z.unknown().parse(raw),
    async execute(ctx) {
      ctx.log.info("shut-down requested: after this job the runner service stops and runner mng exits");
    },
    afterFinished(ctx, status) {
      if (status !== "finished") return;
      const reason = `mng-shut-down job ${ctx.job.id}`;
      void stopRunnerService(deps, reason)
        .then(
          (unit) => deps.log?.info({ unit, jobId: ctx.job.id }, "the runner service is stopped"),
          (err: unknown) =>
            deps.log?.error(
              { err, jobId: ctx.job.id },
              "stopping the runner service failed; runner mng exits anyway",
            ),
        )
        .finally(() => ctx.runnerState.requestExit(reason));
    },
  };
}
