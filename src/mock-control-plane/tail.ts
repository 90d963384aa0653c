/**
 * Parked long-polls of `GET /v1/runners/{id}/jobs/tail`. A job that becomes available is handed to the oldest
 * parked request of its runner whose group matches, so one job wakes one poll (others keep waiting).
 */
import type { JobRecord } from "./model.ts";

interface Waiter {
  runnerId: string;
  group: string;
  resolve(job: JobRecord | undefined): void;
}

/** The parked long-polls of one control plane. */
export class TailWaiters {
  /** Oldest first, per runner. */
  readonly #byRunner = new Map<string, Set<Waiter>>();

  /** Parks until a matching job becomes available (resolves to it), `waitMs` passes or `signal` aborts. */
  wait(runnerId: string, group: string, waitMs: number, signal: AbortSignal): Promise<JobRecord | undefined> {
    return new Promise((resolve) => {
      const waiters = this.#byRunner.get(runnerId) ?? new Set<Waiter>();
      this.#byRunner.set(runnerId, waiters);
      const finish = (job: JobRecord | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(waiter);
        if (waiters.size === 0) this.#byRunner.delete(runnerId);
        resolve(job);
      };
      const onAbort = () => finish(undefined);
      const waiter: Waiter = { runnerId, group, resolve: finish };
      const timer = setTimeout(() => finish(undefined), waitMs);
      if (signal.aborted) return finish(undefined);
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** Hands an available job to the oldest matching parked poll, if any. */
  notify(job: JobRecord): void {
    const waiters = this.#byRunner.get(job.job.runner_id ?? "");
    if (waiters === undefined) return;
    for (const waiter of waiters) {
      if (waiter.group === "any" || waiter.group === "" || waiter.group === job.job.group) {
        waiter.resolve(job);
        return;
      }
    }
  }

  /** Number of parked polls. */
  get size(): number {
    let n = 0;
    for (const waiters of this.#byRunner.values()) n += waiters.size;
    return n;
  }

  /** Ends every parked poll with no job (the server is closing). */
  closeAll(): void {
    for (const waiters of [...this.#byRunner.values()]) {
      for (const waiter of [...waiters]) waiter.resolve(undefined);
    }
  }
}
