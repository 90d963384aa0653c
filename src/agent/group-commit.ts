/**
 * Group commit: changes made while a write is in flight are merged into the next single write, instead of
 * one write per change. `write` must snapshot the state when it is called, so a write contains every change
 * made before it started; each caller of `commit()` waits for the first write that started after its change.
 * Writes never overlap. With N changes arriving during one write, N + 1 writes become 2.
 */

/** A writer that merges the changes queued while it writes. */
export interface GroupCommit {
  /** Resolves once a write that contains every change made so far is done; rejects with that write's error. */
  commit(): Promise<void>;
  /** Resolves once no write is queued or in flight; never rejects. */
  settled(): Promise<void>;
  /** Writes started so far. */
  readonly writes: number;
}

interface Batch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Creates a group commit over `write` (which snapshots the state it writes when called). */
export function createGroupCommit(write: () => Promise<void>): GroupCommit {
  let inFlight: Promise<void> | undefined;
  let queued: Batch | undefined;
  let writes = 0;

  function startNext(): void {
    if (inFlight !== undefined || queued === undefined) return;
    const current = queued;
    queued = undefined;
    writes += 1;
    inFlight = Promise.resolve()
      .then(write)
      .then(current.resolve, current.reject)
      .finally(() => {
        inFlight = undefined;
        startNext();
      });
  }

  return {
    commit() {
      if (queued === undefined) {
        queued = batch();
        // start after the current tick, so the changes made in it share the write
        if (inFlight === undefined) queueMicrotask(startNext);
      }
      return queued.promise;
    },
    async settled() {
      while (inFlight !== undefined || queued !== undefined) {
        await (queued?.promise ?? inFlight)?.catch(() => undefined);
      }
    },
    get writes() {
      return writes;
    },
  };
}
