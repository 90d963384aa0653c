/**
 * The one error of fetching a git source. Its message always names the repository (without credentials) and
 * the ref; callers branch on `code`. `classifyGitError` turns what isomorphic-git, node's http and the file
 * system throw into one of these.
 */
import { WorkspaceEscapeError } from "../workspace/safe-path.ts";

/** Stable codes of GitSourceError. */
export type GitSourceErrorCode =
  /** The source itself is unusable: bad URL, unsupported scheme, non-empty target directory. */
  | "INVALID_SOURCE"
  /** The server wants credentials (none given) or refused the ones given (HTTP 401/403). */
  | "AUTH_FAILED"
  /** The server has no such repository (HTTP 404). */
  | "REPOSITORY_NOT_FOUND"
  /** No branch, tag or commit of that name exists. */
  | "REF_NOT_FOUND"
  /** The host could not be reached (connection refused, DNS, timeout, TLS). */
  | "UNREACHABLE"
  /** `path` (or a submodule path) leads outside the checkout. */
  | "UNSAFE_PATH"
  /** The signal aborted the fetch. */
  | "CANCELED"
  /** Anything else (a server error, a corrupt pack …); the message says what. */
  | "FAILED";

/** Fetching a git source failed. */
export class GitSourceError extends Error {
  override readonly name = "GitSourceError";
  readonly code: GitSourceErrorCode;
  /** The repository URL without credentials. */
  readonly repository: string;
  readonly ref: string;

  constructor(args: {
    code: GitSourceErrorCode;
    repository: string;
    ref: string;
    reason: string;
    cause?: unknown;
  }) {
    super(`could not fetch git repository ${args.repository} at ref "${args.ref}": ${args.reason}`, {
      cause: args.cause,
    });
    this.code = args.code;
    this.repository = args.repository;
    this.ref = args.ref;
  }
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** What went wrong, as a code and a reason sentence (no credentials: only codes and status lines are used). */
export function classifyGitError(
  err: unknown,
  context: { authGiven: boolean; aborted: boolean },
): { code: GitSourceErrorCode; reason: string } {
  if (context.aborted) return { code: "CANCELED", reason: "the fetch was cancelled" };
  if (err instanceof WorkspaceEscapeError) return { code: "UNSAFE_PATH", reason: err.message };
  const e = err as {
    code?: unknown;
    data?: { statusCode?: unknown; statusMessage?: unknown };
    message?: unknown;
  };
  const code = typeof e?.code === "string" ? e.code : undefined;
  if (code === "HttpError") {
    const status = Number(e.data?.statusCode);
    if (status === 401 || status === 403) {
      return {
        code: "AUTH_FAILED",
        reason: context.authGiven
          ? `the server refused the credentials (HTTP ${status})`
          : `the server requires credentials and none were given (HTTP ${status})`,
      };
    }
    if (status === 404)
      return { code: "REPOSITORY_NOT_FOUND", reason: "the server has no such repository (HTTP 404)" };
    return { code: "FAILED", reason: `the server answered HTTP ${status}` };
  }
  if (code === "UserCanceledError") {
    return { code: "AUTH_FAILED", reason: "the server refused the credentials" };
  }
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return { code: "UNREACHABLE", reason: `the host could not be reached (${code})` };
  }
  if (err instanceof Error && err.message === "Request timed out") {
    return { code: "UNREACHABLE", reason: "the server did not answer in time" };
  }
  if (code === "SmartHttpError" || code === "ParseError") {
    return { code: "FAILED", reason: "the server did not speak the git smart HTTP protocol" };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "FAILED", reason: message };
}
