/**
 * `mng-runner-restart`: `systemctl restart` of the runner service, under the service gate. systemd sends
 * SIGTERM to the runner alone (KillMode=mixed), waits while it drains (TimeoutStopSec), then starts it again;
 * the job finishes once the service is running again, and fails naming its state when it is not.
 */
import * as z from "zod";
import { loadServiceTarget } from "../../mng/service-target.ts";
import type { JobHandler } from "../handler.ts";
import type { ManagementDeps } from "./deps.ts";

/** Creates the `mng-runner-restart` handler. */
export function createMngRunnerRestartHandler(deps: ManagementDeps): JobHandler<unknown> {
  return {
    name: "mng-runner-restart",
    needsWorkspace: false,
    parsePlan: (raw) => z.unknown().parse(raw),
    async execute(ctx) {
      await deps.gate.exclusive(async () => {
        const target = await loadServiceTarget(deps.target);
        const opts = { signal: ctx.signal, onLine: ctx.log.line.bind(ctx.log) };
        ctx.log.info("restarting the runner service (running jobs drain first)", { unit: target.unit });
        await deps.systemctl.restart(target.unit, opts);
        const state = await deps.systemctl.isActive(target.unit, opts);
        if (state !== "active" && state !== "activating") {
          throw new Error(`systemctl restart ${target.unit} returned, but the service is ${state}`);
        }
        ctx.log.info("the runner service is running again", { unit: target.unit, state });
        ctx.outputs.unit = target.unit;
        ctx.outputs.state = state;
      });
    },
  };
}
