/**
 * Racing a step against its AbortSignal: a step that honours the signal settles on its own; one that
 * ignores it is given `settleMs` to finish before the pipeline stops waiting for it.
 */

/** Resolves with the step's value, or rejects once `signal` aborted and the step had `settleMs` to notice. */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal, settleMs: number): Promise<T> {
  if (signal.aborted) return giveUpAfter(work, signal, settleMs);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => giveUpAfter(work, signal, settleMs).then(resolve, reject);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** Settles like `work` when it settles within `settleMs`; otherwise rejects with `signal.reason`. */
export function giveUpAfter<T>(work: Promise<T>, signal: AbortSignal, settleMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(signal.reason), settleMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
