/**
 * The non-terminal statuses of one execution (`initializing`, `in-progress`, `cleaning-up`), sent without
 * holding up the steps: every status reported is sent, in the order reported, each only after the previous one
 * was answered (so they cannot overtake each other on separate connections). Nothing is skipped or merged
 * while the control plane answers: it sees the same statuses, in the same order, as from a pipeline that
 * waited for each — only the steps no longer wait (a noop job's steps take microseconds, a PATCH a round trip;
 * over a WAN link every wait costs the runner's latency to the control plane).
 *
 * When a status could not be delivered (`send` resolved false or rejected: the client gave up its retries),
 * the statuses already waiting behind it are dropped: the pipeline has moved past them, and the next status
 * reported (or the terminal one) supersedes them. A control plane that is away therefore delays the terminal
 * status by one status's retries, not by one per status queued.
 *
 * The terminal status is not sent here: the agent sends it once `drained()` settled, so it is always the last.
 */
import type { ExecutionStatus } from "../control-plane/schemas.ts";

/** One execution's queue of non-terminal statuses. */
export interface StatusQueue {
  /** Queues `status` and returns at once. */
  report(status: ExecutionStatus): void;
  /** Settles once every status reported so far was answered, given up or dropped. Never rejects. */
  drained(): Promise<void>;
}

/**
 * Creates a queue that hands each status to `send`, one at a time, in order. `send` resolves true when the
 * control plane acknowledged the status, false when it was given up.
 */
export function createStatusQueue(send: (status: ExecutionStatus) => Promise<boolean>): StatusQueue {
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0; // reported and not yet settled
  let reported = 0;
  let droppedUpTo = 0; // statuses numbered up to this one are not sent
  return {
    report(status) {
      reported += 1;
      const number = reported;
      const run = async () => {
        try {
          if (number <= droppedUpTo) return;
          let delivered: boolean;
          try {
            delivered = await send(status);
          } catch {
            delivered = false;
          }
          if (!delivered) droppedUpTo = reported;
        } finally {
          waiting -= 1;
        }
      };
      waiting += 1;
      // nothing ahead of it: sent now, not a microtask later (it leaves before whatever the step does next)
      tail = waiting === 1 ? run() : tail.then(run);
    },
    drained: () => tail,
  };
}
