/**
 * When and how the control-plane client retries: which operations are safe to send twice (the table below),
 * full-jitter exponential backoff, the server's `Retry-After`, and backoff sleeps that honour the caller's
 * AbortSignal. Whether an error is worth a retry at all is decided in errors.ts (`isRetryable`).
 */
import type { ControlPlaneApi } from "./api.ts";
import { ControlPlaneError, isRetryable } from "./errors.ts";

/** The name of one wire operation: every `ControlPlaneApi` method that sends a request. */
export type OperationName = Exclude<keyof ControlPlaneApi, "runnerId" | "baseUrl" | "buildResultBody">;

/**
 * How an operation may be retried:
 * - `any`: a retryable error (see `isRetryable`) may be retried, because sending the request twice is harmless;
 * - `unsent`: only retried when the error proves the request never left this machine (see `wasNeverSent`).
 */
export type RetryPolicy = "any" | "unsent";

/** Which operations are safe to send twice, one line each with the reason. */
export const RETRY_POLICY = {
  getSettings: "any", // GET: reads only
  getRunner: "any", // GET: reads only
  listJobs: "any", // GET: reads only
  tailJobs: "any", // GET: reads only (a parked long-poll claims nothing)
  getJob: "any", // GET: reads only
  getPlanText: "any", // GET: reads only
  getCompositePlan: "any", // GET: reads only
  createExecution: "unsent", // the claim: a second POST that reaches the server could double-claim the job
  updateExecutionStatus: "any", // PATCH {status}: idempotent, the same status twice is the same state
  createResult: "any", // the control plane keeps the latest result; a duplicate is harmless
  createOutputs: "any", // the control plane keeps the latest outputs; a duplicate is harmless
  heartbeat: "any", // a duplicate heartbeat only says "alive" twice
  healthCheck: "any", // a duplicate health check is one more identical sample
  createProcess: "unsent", // a second POST that reaches the server registers a second process
  updateProcess: "any", // PATCH {status}: idempotent
  completeShutdown: "any", // completing a completed shutdown changes nothing
  updateActionStep: "any", // PUT {status}: idempotent
  lockWorkspace: "any", // the lock is held by this job id; re-locking with the same id is the same lock
  unlockWorkspace: "any", // unlocking an unlocked workspace changes nothing
  pushStateJson: "any", // the latest state JSON wins; a duplicate is harmless
  // records carry runner.log.seq: the embedded control plane keeps each (execution, seq) once; Nuon's keeps both
  writeLogs: "any",
} as const satisfies Record<OperationName, RetryPolicy>;

/** Longest wait honoured from a server's Retry-After, in milliseconds (30 s). */
export const MAX_RETRY_AFTER_MS = 30_000;

/** Error codes of connection failures that happen before a single byte of the request is written. */
const NEVER_SENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * True when the error (or a `cause`/`errors` entry below it) proves the request was never sent: the
 * connection was refused, timed out while connecting, or the host did not resolve.
 */
export function wasNeverSent(err: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_SENT_CODES.has(code)) return true;
    stack.push((e as { cause?: unknown }).cause);
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) stack.push(...inner);
  }
  return false;
}

/** True when `err` may be retried under `policy` (retryable, and for `unsent` provably never sent). */
export function shouldRetry(policy: RetryPolicy, err: unknown): boolean {
  if (!isRetryable(err)) return false;
  return policy === "any" || wasNeverSent(err);
}

/**
 * Full-jitter exponential backoff: a random delay in [0, min(maxDelayMs, baseDelayMs * 2^retryIndex)),
 * in milliseconds; `retryIndex` counts from 0 for the first retry.
 */
export function backoffDelayMs(
  retryIndex: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** retryIndex);
  return Math.floor(random() * ceiling);
}

/**
 * Parses a Retry-After header (delay in seconds, or an HTTP date) into milliseconds from `nowMs`, capped at
 * MAX_RETRY_AFTER_MS; `undefined` when absent or unreadable.
 */
export function parseRetryAfterMs(
  header: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(value)) {
    ms = Number(value) * 1000;
  } else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

/** Waits `ms` milliseconds; rejects with an `ABORTED` ControlPlaneError as soon as `signal` fires. */
export function sleep(ms: number, operation: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(operation, signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error every call rejects with once the caller's signal fired. */
export function abortedError(operation: string, reason: unknown): ControlPlaneError {
  return new ControlPlaneError({
    code: "ABORTED",
    operation,
    message: `${operation} was cancelled by the caller; it was not retried`,
    cause: reason,
  });
}

/** The last error of a call that spent all its attempts, saying so. */
function gaveUp(err: ControlPlaneError, attempts: number): ControlPlaneError {
  return new ControlPlaneError({
    code: err.code,
    operation: err.operation,
    message: `${err.message} (gave up after ${attempts} attempts)`,
    status: err.status,
    body: err.body,
    retryAfterMs: err.retryAfterMs,
    cause: err,
  });
}

/** What one retry looks like to an observer (`onRetry`). */
export interface RetryInfo {
  operation: string;
  /** The attempt that just failed, counting from 1. */
  attempt: number;
  /** How long the client waits before the next attempt, in milliseconds. */
  delayMs: number;
  error: ControlPlaneError;
}

/** Options of `withRetry`; delays in milliseconds. */
export interface RetryOptions {
  operation: OperationName;
  /** Attempts in total, the first included (at least 1). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The caller's signal: aborts the backoff sleep. */
  signal?: AbortSignal | undefined;
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Random source in [0, 1) for the jitter; defaults to Math.random. */
  random?: () => number;
}

/**
 * Runs `attempt(n)` (n from 1) until it resolves, the error may not be retried (see RETRY_POLICY and
 * `shouldRetry`), or `maxAttempts` is spent; between attempts waits the server's Retry-After when it sent
 * one, else the jittered backoff. Rethrows the last error.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = RETRY_POLICY[opts.operation];
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof ControlPlaneError) || !shouldRetry(policy, err)) throw err;
      if (n >= opts.maxAttempts) throw n > 1 ? gaveUp(err, n) : err;
      const delayMs =
        err.retryAfterMs ?? backoffDelayMs(n - 1, opts.baseDelayMs, opts.maxDelayMs, opts.random);
      try {
        opts.onRetry?.({ operation: opts.operation, attempt: n, delayMs, error: err });
      } catch {
        // An observer that throws must not change the outcome of the call.
      }
      await sleep(delayMs, opts.operation, opts.signal);
    }
  }
}
