/**
 * One door to the runner service: the reconcile loop and the management jobs (restart, update, shut-down)
 * each take it for the whole of their change, so a reconcile never starts the service in the middle of an
 * update's swap or right after a shut-down stopped it. `close()` (by mng-shut-down) makes the loop stand down
 * for the rest of the process's life.
 */

/** The service gate. */
export interface ServiceGate {
  /** Runs `fn` when no other holder runs; holders go one at a time, in arrival order. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** From now on the reconcile loop leaves the service alone (it stays as the last holder left it). */
  close(reason: string): void;
  /** Why the gate was closed, or undefined while open. */
  readonly closedReason: string | undefined;
}

/** Creates an open gate. */
export function createServiceGate(): ServiceGate {
  let tail: Promise<unknown> = Promise.resolve();
  let closedReason: string | undefined;
  return {
    exclusive<T>(fn: () => Promise<T>): Promise<T> {
      const run = tail.then(fn, fn);
      tail = run.catch(() => undefined);
      return run;
    },
    close(reason) {
      closedReason ??= reason;
    },
    get closedReason() {
      return closedReason;
    },
  };
}
