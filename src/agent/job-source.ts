/**
 * Where one job loop asks for work: the long-poll tail endpoint when enabled (one parked request, answered
 * the moment a job becomes available or empty after `longPollWaitMs`), else the plain job list. A 404 on the
 * tail endpoint means the control plane does not offer it: the source falls back to listing for the rest of
 * the runner's life (PROTOCOL.md §8).
 */
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import type { Job } from "../control-plane/schemas.ts";

/** How a source asks: `tail` (long-poll) or `poll` (list). */
export type SourceMode = "tail" | "poll";

/** One answer of a source. */
export interface SourceAnswer {
  jobs: Job[];
  /** How this answer was obtained; an empty `tail` answer already waited, an empty `poll` answer did not. */
  mode: SourceMode;
}

/** Asks the control plane for available jobs of one group. */
export interface JobSource {
  readonly mode: SourceMode;
  /** One ask; throws ControlPlaneError on failure (the loop backs off). */
  next(signal: AbortSignal): Promise<SourceAnswer>;
}

/** Options of a job source. */
export interface JobSourceOptions {
  client: Pick<ControlPlaneApi, "tailJobs" | "listJobs">;
  group: string;
  /** Start with long-polling; default true. */
  longPoll: boolean;
  /** Milliseconds the control plane may hold a long-poll (default 25 000). */
  longPollWaitMs: number;
  log: Logger;
}

/** Creates a job source. */
export function createJobSource(options: JobSourceOptions): JobSource {
  let mode: SourceMode = options.longPoll ? "tail" : "poll";
  const { client, group } = options;

  async function list(signal: AbortSignal): Promise<SourceAnswer> {
    return { jobs: await client.listJobs({ group, status: "available" }, { signal }), mode: "poll" };
  }

  return {
    get mode() {
      return mode;
    },
    async next(signal) {
      if (mode === "poll") return list(signal);
      const answer = await client.tailJobs(group, options.longPollWaitMs, { signal });
      if (answer.supported) return { jobs: answer.jobs, mode: "tail" };
      mode = "poll";
      options.log.info(
        { group },
        "the control plane does not offer long-polling; polling the job list instead",
      );
      return list(signal);
    },
  };
}
