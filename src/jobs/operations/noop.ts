/**
 * `noop` (operations group): succeeds. Its plan is usually empty; two optional fields exist so tests and
 * demos can hold a job running or make it fail without any tooling:
 * - `sleep_ms`: wait this many milliseconds in execute (aborts with the job's signal);
 * - `fail_message`: throw this message from execute.
 */
import { setTimeout as delay } from "node:timers/promises";
import * as z from "zod/mini";
import "../../zod-locale.ts";
import type { JobHandler } from "../handler.ts";

/** The noop plan: `null`/empty, or `{sleep_ms?, fail_message?}`. zod/mini: the idle runner loads this. */
export const NoopPlan = z.pipe(
  z.nullish(
    z.looseObject({
      /** Milliseconds to wait in execute; at most one day. */
      sleep_ms: z.optional(z.number().check(z.int(), z.nonnegative(), z.maximum(86_400_000))),
      /** When set, execute fails with this message. */
      fail_message: z.optional(z.string().check(z.minLength(1))),
    }),
  ),
  z.transform((plan) => plan ?? {}),
);
export type NoopPlan = z.infer<typeof NoopPlan>;

/** Creates the noop handler. */
export function createNoopHandler(): JobHandler<NoopPlan> {
  return {
    name: "noop",
    needsWorkspace: false,
    parsePlan: (raw) => NoopPlan.parse(raw),
    async execute(ctx) {
      const sleepMs = ctx.plan.sleep_ms ?? 0;
      if (sleepMs > 0) {
        ctx.log.info("noop job sleeping", { sleepMs });
        await delay(sleepMs, undefined, { signal: ctx.signal });
      }
      if (ctx.plan.fail_message !== undefined) throw new Error(ctx.plan.fail_message);
      // debug: "job finished" (run-job.ts) already says so at info, in the job's log and the runner's.
      ctx.log.debug("noop job done");
    },
  };
}
