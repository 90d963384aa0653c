/**
 * The one error type of src/kube. An API server answers a failed request with a `Status` object
 * (`{kind: "Status", reason, message, code, details}`); `KubeError` keeps its reason as a stable `code` so
 * callers branch on codes, never on messages. Messages never carry credentials: requests are described by
 * method, path and object, never by headers.
 */

/** Stable codes of KubeError. */
export type KubeErrorCode =
  /** 400 BadRequest, or a body the server could not decode. */
  | "BAD_REQUEST"
  /** 401: the credentials were refused. */
  | "UNAUTHORIZED"
  /** 403: the credentials may not perform this verb on this resource. */
  | "FORBIDDEN"
  /** 404: the object (or its namespace, or its API) does not exist. */
  | "NOT_FOUND"
  /** 409 AlreadyExists. */
  | "ALREADY_EXISTS"
  /** 409 Conflict: a server-side apply field conflict, or a stale resourceVersion. */
  | "CONFLICT"
  /** 422 Invalid: the object failed validation. */
  | "INVALID"
  /** 405 */
  | "METHOD_NOT_ALLOWED"
  /** 429 */
  | "TOO_MANY_REQUESTS"
  /** 5xx */
  | "SERVER_ERROR"
  /** Discovery does not know the object's kind in its apiVersion. */
  | "UNKNOWN_KIND"
  /** The connection failed (refused, reset, TLS verification, DNS). */
  | "NETWORK"
  /** The caller's AbortSignal fired. */
  | "ABORTED"
  /** A wait ran out of time. */
  | "TIMEOUT"
  /** An object reported that it cannot become ready (rollout deadline exceeded, Job failed). */
  | "NOT_READY"
  /** Any other status. */
  | "UNEXPECTED_STATUS";

/** A Kubernetes `Status` object as sent in error bodies (all fields optional). */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: Array<{ type?: string; message?: string; field?: string }>;
  };
}

/** An error from the API server or from talking to it. */
export class KubeError extends Error {
  override readonly name = "KubeError";
  /** Stable code, see KubeErrorCode. */
  readonly code: KubeErrorCode;
  /** HTTP status, when a response arrived. */
  readonly status: number | undefined;
  /** The server's Status body, when it sent one. */
  readonly body: KubeStatus | undefined;

  constructor(args: {
    code: KubeErrorCode;
    message: string;
    status?: number;
    body?: KubeStatus;
    cause?: unknown;
  }) {
    super(args.message, { cause: args.cause });
    this.code = args.code;
    this.status = args.status;
    this.body = args.body;
  }
}

/** Maps an HTTP status (and the Status reason, which tells 409 AlreadyExists from Conflict) to a code. */
export function codeForStatus(status: number, reason?: string): KubeErrorCode {
  if (status === 400) return "BAD_REQUEST";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 404) return "NOT_FOUND";
  if (status === 405) return "METHOD_NOT_ALLOWED";
  if (status === 409) return reason === "AlreadyExists" ? "ALREADY_EXISTS" : "CONFLICT";
  if (status === 422) return "INVALID";
  if (status === 429) return "TOO_MANY_REQUESTS";
  if (status >= 500) return "SERVER_ERROR";
  return "UNEXPECTED_STATUS";
}

/** True for a KubeError with `code`. */
export function isKubeError(err: unknown, code?: KubeErrorCode): err is KubeError {
  return err instanceof KubeError && (code === undefined || err.code === code);
}

/** Reads a Status object from a parsed body, or undefined when it is not one. */
export function asStatus(body: unknown): KubeStatus | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const s = body as KubeStatus;
  return s.kind === "Status" || typeof s.message === "string" ? s : undefined;
}

/** The server's message plus the causes it lists (field conflicts, validation failures), one line. */
export function describeStatus(status: KubeStatus | undefined, fallback: string): string {
  const message = status?.message?.trim() || fallback;
  const causes = (status?.details?.causes ?? [])
    .filter((c) => !(c.field && message.includes(c.field)) && !(c.message && message.includes(c.message)))
    .map((c) => [c.field, c.message].filter((p) => p !== undefined && p !== "").join(": "))
    .filter((c) => c !== "");
  return causes.length === 0 ? message : `${message} (${causes.join("; ")})`;
}
