/**
 * `health-check` (created in the operations group): outputs `{"job_loops": {"<group>": <ns since that loop
 * last checked for work>}}` (PROTOCOL.md §3). The control plane asks for a restart when a value exceeds
 * 10 minutes, or when some loops report 0 while others do not, so values are never 0.
 */
import * as z from "zod/mini";
import type { JobHandler } from "../handler.ts";

/** Health-check jobs carry no plan worth reading; anything is accepted. */
const HealthCheckPlan = z.unknown();

/** Creates the health-check handler. */
export function createHealthCheckHandler(): JobHandler<unknown> {
  return {
    name: "health-check",
    needsWorkspace: false,
    parsePlan: (raw) => HealthCheckPlan.parse(raw),
    async execute(ctx) {
      ctx.log.debug("health check: reporting job loops");
    },
    async outputs(ctx) {
      return { job_loops: ctx.runnerState.jobLoops() };
    },
  };
}
