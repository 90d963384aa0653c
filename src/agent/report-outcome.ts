/**
 * Delivers a job's terminal outcome: the result, then the terminal execution status. Each call is retried
 * with backoff until the control plane acknowledges it, rejects it for good (4xx: e.g. the execution was
 * already ended by the control plane), or `signal` aborts because the runner stops — then the journal still
 * holds the outcome and the next start delivers it.
 */
import type { Logger } from "pino";
import { createBackoff, sleep } from "../backoff.ts";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import { ControlPlaneError } from "../control-plane/errors.ts";
import type { PendingOutcome } from "./journal.ts";
import { errorFields } from "./log-fields.ts";

/** How a delivery ended: acknowledged (or refused for good, which retrying cannot change), or abandoned. */
export type DeliveryResult = "delivered" | "abandoned";

/** Options of `deliverOutcome`. */
export interface DeliverOptions {
  client: Pick<ControlPlaneApi, "createResult" | "updateExecutionStatus">;
  log: Logger;
  /** Aborts the retries (the runner stops); the outcome then stays in the journal. */
  signal: AbortSignal;
  /** First pause between attempts in ms; default 500. */
  initialDelayMs?: number;
  /** Longest pause between attempts in ms; default 5000. */
  maxDelayMs?: number;
}

/** True for errors no retry can change: the request reached the control plane and it said no, or said yes. */
export function isFinalAnswer(err: unknown): boolean {
  return (
    err instanceof ControlPlaneError &&
    (err.code === "BAD_REQUEST" ||
      err.code === "NOT_FOUND" ||
      err.code === "CONFLICT" ||
      err.code === "CLAIM_LOST" ||
      err.code === "BAD_RESPONSE")
  );
}

async function persist(
  what: string,
  call: (signal: AbortSignal) => Promise<void>,
  options: DeliverOptions,
  fields: Record<string, unknown>,
): Promise<boolean> {
  const backoff = createBackoff({
    initialMs: options.initialDelayMs ?? 500,
    maxMs: options.maxDelayMs ?? 5_000,
  });
  for (;;) {
    if (options.signal.aborted) return false;
    try {
      await call(options.signal);
      if (backoff.attempts > 0)
        options.log.info(fields, `${what} delivered after the control plane came back`);
      return true;
    } catch (err) {
      if (isFinalAnswer(err)) {
        options.log.warn(
          { ...fields, ...errorFields(err) },
          `the control plane refused the ${what}; it is not sent again`,
        );
        return true;
      }
      if (options.signal.aborted) return false;
      const delayMs = backoff.next();
      options.log.warn(
        { ...fields, ...errorFields(err), delayMs },
        `could not deliver the ${what}; retrying until it arrives`,
      );
      await sleep(delayMs, options.signal);
    }
  }
}

/** Posts the result, then PATCHes the terminal status, each retried until acknowledged or `signal` aborts. */
export async function deliverOutcome(
  jobId: string,
  executionId: string,
  outcome: PendingOutcome,
  options: DeliverOptions,
): Promise<DeliveryResult> {
  const fields = { status: outcome.status };
  const { client } = options;
  const resultSent = await persist(
    "result",
    (signal) => client.createResult(jobId, executionId, outcome.result, { signal }),
    options,
    fields,
  );
  if (!resultSent) return "abandoned";
  const statusSent = await persist(
    "terminal status",
    (signal) => client.updateExecutionStatus(jobId, executionId, outcome.status, { signal }),
    options,
    fields,
  );
  return statusSent ? "delivered" : "abandoned";
}
