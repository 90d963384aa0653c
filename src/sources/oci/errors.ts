/**
 * The one error type of the OCI client. `code` is stable and says what went wrong; the message names the
 * registry and the reference, never a credential.
 */

/** What went wrong talking to a registry. */
export type OciErrorCode =
  /** The manifest, tag, blob or repository does not exist. */
  | "NOT_FOUND"
  /** The registry (or its token service) rejected the credentials, or wanted some and got none. */
  | "UNAUTHORIZED"
  /** Authenticated, but not allowed to do this. */
  | "DENIED"
  /** Content did not hash to the digest it was fetched by (or its size differed). */
  | "DIGEST_MISMATCH"
  /** A reference, digest or registry config that cannot be used. */
  | "INVALID"
  /** Something this client does not support (yet). */
  | "UNSUPPORTED"
  /** The registry answered in a way the distribution protocol does not allow. */
  | "PROTOCOL"
  /** Any other HTTP error status. */
  | "HTTP"
  /** The connection failed or timed out. */
  | "NETWORK"
  /** The caller's signal aborted. */
  | "ABORTED";

/** Options of OciError. */
export interface OciErrorOptions {
  /** HTTP status, when an answer caused it. */
  status?: number;
  /** The registry error code (e.g. MANIFEST_UNKNOWN), when the registry sent one. */
  registryCode?: string;
  cause?: unknown;
}

/** An OCI registry operation failed. */
export class OciError extends Error {
  override readonly name = "OciError";
  readonly code: OciErrorCode;
  readonly status: number | undefined;
  readonly registryCode: string | undefined;

  constructor(code: OciErrorCode, message: string, options: OciErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.registryCode = options.registryCode;
  }
}

/** Whether `error` is an OciError, optionally of the given code. */
export function isOciError(error: unknown, code?: OciErrorCode): error is OciError {
  return error instanceof OciError && (code === undefined || error.code === code);
}
