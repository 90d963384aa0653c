/**
 * Jittered exponential backoff for idle polling and error retries (the job loops, outcome delivery, the log
 * shipper), and an abortable sleep. Pure: the random source is injected so tests can table-test the delays.
 * (The control-plane client's per-request retries use full jitter and Retry-After: control-plane/retry.ts.)
 */
import { setTimeout as delay } from "node:timers/promises";

/** Options of a backoff. */
export interface BackoffOptions {
  /** First delay in milliseconds. */
  initialMs: number;
  /** Largest delay in milliseconds; the exponential growth stops here. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /** Fraction of each delay removed at random (0 = none, 1 = full jitter); default 0.2. */
  jitterRatio?: number;
  /** Random source in [0, 1); default Math.random. */
  random?: () => number;
}

/** A backoff: `next()` gives the next delay, `reset()` starts over (call it when work was found). */
export interface Backoff {
  /** The next delay in milliseconds, in [base × (1 − jitterRatio), base] with base = min(maxMs, initialMs × factor^n). */
  next(): number;
  /** Back to the first delay. */
  reset(): void;
  /** How many delays were handed out since the last reset. */
  readonly attempts: number;
}

/** Creates a jittered exponential backoff. */
export function createBackoff(options: BackoffOptions): Backoff {
  const factor = options.factor ?? 2;
  const jitterRatio = Math.min(1, Math.max(0, options.jitterRatio ?? 0.2));
  const random = options.random ?? Math.random;
  const initialMs = Math.max(0, options.initialMs);
  const maxMs = Math.max(initialMs, options.maxMs);
  let attempts = 0;
  return {
    next() {
      const base = Math.min(maxMs, initialMs * factor ** attempts);
      attempts += 1;
      return Math.round(base * (1 - jitterRatio * random()));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

/** Waits `ms` milliseconds; resolves early (never rejects) when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return;
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // aborted: the caller checks its signal
  }
}
