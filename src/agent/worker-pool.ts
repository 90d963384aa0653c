/**
 * A fixed number of job slots. A job loop reserves a slot BEFORE it asks the control plane for work, so it
 * never claims a job it cannot start at once; the slot is released when the job's pipeline ends (or when the
 * loop found nothing to claim).
 */

/** One reserved slot; `release()` is idempotent. */
export interface Slot {
  /** Gives the slot back; waiting reservations are served in FIFO order. */
  release(): void;
  /** True once released. */
  readonly released: boolean;
}

/** A pool of `capacity` slots. */
export interface WorkerPool {
  /** Number of slots, at least 1. */
  readonly capacity: number;
  /** Slots currently reserved. */
  readonly inUse: number;
  /** Waits (FIFO) for a free slot; rejects with `signal.reason` when `signal` aborts first. */
  reserve(signal?: AbortSignal): Promise<Slot>;
  /** A free slot now, or undefined when all are in use or someone is already waiting. */
  tryReserve(): Slot | undefined;
  /** Resolves when no slot is reserved. */
  idle(): Promise<void>;
}

/** Creates a pool of `capacity` slots (values below 1 become 1). */
export function createWorkerPool(capacity: number): WorkerPool {
  const size = Math.max(1, Math.floor(capacity));
  let inUse = 0;
  const waiters: Array<(slot: Slot) => void> = [];
  let idleWaiters: Array<() => void> = [];

  function makeSlot(): Slot {
    let released = false;
    return {
      get released() {
        return released;
      },
      release() {
        if (released) return;
        released = true;
        const next = waiters.shift();
        if (next !== undefined) {
          next(makeSlot());
          return;
        }
        inUse -= 1;
        if (inUse === 0) {
          const toWake = idleWaiters;
          idleWaiters = [];
          for (const wake of toWake) wake();
        }
      },
    };
  }

  return {
    capacity: size,
    get inUse() {
      return inUse;
    },
    tryReserve() {
      if (inUse >= size || waiters.length > 0) return undefined;
      inUse += 1;
      return makeSlot();
    },
    reserve(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (inUse < size && waiters.length === 0) {
        inUse += 1;
        return Promise.resolve(makeSlot());
      }
      return new Promise<Slot>((resolve, reject) => {
        const waiter = (slot: Slot) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(slot);
        };
        const onAbort = () => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) waiters.splice(index, 1);
          reject(signal?.reason);
        };
        waiters.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    idle() {
      if (inUse === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
