/**
 * The non-terminal statuses of one execution (`initializing`, `in-progress`, `cleaning-up`), sent without
 * holding up the steps: every status reported is sent, in the order reported, each only after the previous one
 * was answered (so they cannot overtake each other on separate connections). Nothing is skipped or merged:
 * the control plane sees the same statuses, in the same order, as from a pipeline that waited for each — only
 * the steps no longer wait (a noop job's steps take microseconds, a PATCH a round trip; over a WAN link every
 * wait costs the runner's latency to the control plane).
 *
 * `send` must not reject (run-job.ts's `patch` logs a failure and goes on). The terminal status is not sent
 * here: the agent sends it once `drained()` settled, so it is always the last one.
 */
import type { ExecutionStatus } from "../control-plane/schemas.ts";

/** One execution's queue of non-terminal statuses. */
export interface StatusQueue {
  /** Queues `status` and returns at once. */
  report(status: ExecutionStatus): void;
  /** Settles once every status reported so far was sent and answered (or given up). Never rejects. */
  drained(): Promise<void>;
}

/** Creates a queue that hands each status to `send`, one at a time, in order. */
export function createStatusQueue(send: (status: ExecutionStatus) => Promise<void>): StatusQueue {
  let tail: Promise<void> = Promise.resolve();
  let queued = 0; // reported and not yet answered
  return {
    report(status) {
      const run = () =>
        send(status)
          .catch(() => undefined)
          .finally(() => {
            queued -= 1;
          });
      queued += 1;
      // nothing ahead of it: sent now, not a microtask later (it leaves before whatever the step does next)
      tail = queued === 1 ? run() : tail.then(run);
    },
    drained: () => tail,
  };
}
