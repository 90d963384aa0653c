/**
 * Errors of the control-plane client, and the one place that decides whether a failure is worth a retry
 * (`isRetryable`) or can never succeed (`isUnrecoverable`).
 */
import type { ErrResponse } from "./schemas.ts";

/** Stable error codes; callers branch on these, never on messages. */
export type ControlPlaneErrorCode =
  /** 401/403: the token or the runner id is wrong. Retrying cannot help. */
  | "UNAUTHORIZED"
  /** 404 */
  | "NOT_FOUND"
  /** 400/422: the control plane rejected the body. */
  | "BAD_REQUEST"
  /** Creating an execution lost the race to another runner, or the job is no longer available. */
  | "CLAIM_LOST"
  /** 409 outside of a claim (e.g. a terraform workspace already locked). */
  | "CONFLICT"
  /** 429 */
  | "RATE_LIMITED"
  /** 5xx */
  | "SERVER_ERROR"
  /** A 2xx whose body did not parse or did not match its schema. */
  | "BAD_RESPONSE"
  /** The per-request deadline passed. */
  | "TIMEOUT"
  /** The connection failed (refused, reset, DNS, TLS). */
  | "NETWORK"
  /** The caller's AbortSignal fired. */
  | "ABORTED"
  /** Any other unexpected status. */
  | "UNEXPECTED_STATUS";

/** An error from one control-plane operation. */
export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
  /** Stable code, see ControlPlaneErrorCode. */
  readonly code: ControlPlaneErrorCode;
  /** The operation, e.g. `createExecution`. */
  readonly operation: string;
  /** HTTP status when a response arrived. */
  readonly status: number | undefined;
  /** The control plane's `{error, description}` when it sent one. */
  readonly body: ErrResponse | undefined;
  /** Milliseconds the server asked us to wait (Retry-After), when it did. */
  readonly retryAfterMs: number | undefined;

  constructor(args: {
    code: ControlPlaneErrorCode;
    operation: string;
    message: string;
    status?: number;
    body?: ErrResponse;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super(args.message, { cause: args.cause });
    this.code = args.code;
    this.operation = args.operation;
    this.status = args.status;
    this.body = args.body;
    this.retryAfterMs = args.retryAfterMs;
  }
}

/** Codes that may succeed on a retry of the same request. */
const RETRYABLE: ReadonlySet<ControlPlaneErrorCode> = new Set(["NETWORK", "TIMEOUT", "RATE_LIMITED"]);

/** Statuses retried: 429 and the gateway/unavailable family (PROTOCOL.md §6: 503 + Retry-After). */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** True when retrying the same request may succeed (network errors, timeouts, 429, 502, 503, 504). */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ControlPlaneError)) return false;
  if (RETRYABLE.has(err.code)) return true;
  return err.code === "SERVER_ERROR" && err.status !== undefined && RETRYABLE_STATUSES.has(err.status);
}

/** True when no retry and no waiting can help: the credentials are wrong. */
export function isUnrecoverable(err: unknown): boolean {
  return err instanceof ControlPlaneError && err.code === "UNAUTHORIZED";
}

/** Maps an HTTP status to its error code (claims map 409/4xx to CLAIM_LOST at the call site). */
export function codeForStatus(status: number): ControlPlaneErrorCode {
  if (status === 401 || status === 403) return "UNAUTHORIZED";
  if (status === 404) return "NOT_FOUND";
  if (status === 400 || status === 422) return "BAD_REQUEST";
  if (status === 409) return "CONFLICT";
  if (status === 429) return "RATE_LIMITED";
  if (status >= 500) return "SERVER_ERROR";
  return "UNEXPECTED_STATUS";
}
