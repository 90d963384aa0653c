/**
 * Clone URLs: only http(s) (isomorphic-git speaks smart HTTP; `git://` and ssh are not supported), with any
 * credentials in the userinfo taken out, so that they reach the server only through the auth callback and
 * never land in `.git/config`, a log line or an error message.
 */

/** Basic-auth credentials for a git server. */
export interface GitCredentials {
  username: string;
  password: string;
}

/** Credentials given to fetchGitSource: basic auth, or a token (sent as `x-access-token:<token>`). */
export type GitAuth = GitCredentials | { token: string };

/** A clone URL split into what is sent, what is shown, and the credentials it carried. */
export interface RepoUrl {
  /** The URL without userinfo: what git talks to. */
  url: string;
  /** The URL without userinfo, query or fragment: what logs and messages show. */
  display: string;
  /** Credentials from the userinfo, when the URL had some. */
  credentials?: GitCredentials;
}

/** Parses a clone URL; throws an Error (naming the URL without credentials) unless it is http(s). */
export function parseRepoUrl(raw: string): RepoUrl {
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    throw new Error(`${displayUrl(raw)} is not a valid URL`);
  }
  const credentials =
    parsed.username !== "" || parsed.password !== ""
      ? { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) }
      : undefined;
  parsed.username = "";
  parsed.password = "";
  const display = `${parsed.origin}${parsed.pathname}`;
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(
      `${display} uses ${parsed.protocol.replace(/:$/, "")}; only http and https repositories are supported`,
    );
  }
  const url = parsed.toString().replace(/\/+$/, "");
  return { url, display: display.replace(/\/+$/, ""), ...(credentials === undefined ? {} : { credentials }) };
}

/**
 * A URL (or URL-ish text like `git@host:org/repo`) safe to show: userinfo, query and fragment removed. Never
 * throws.
 */
export function displayUrl(raw: string): string {
  try {
    const parsed = new URL(raw.trim());
    parsed.username = "";
    parsed.password = "";
    return parsed.protocol === "http:" || parsed.protocol === "https:"
      ? `${parsed.origin}${parsed.pathname}`
      : `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    // Not a URL: drop anything up to an `@` (scp-like `user:pass@host:path`) and any query.
    return raw
      .trim()
      .replace(/^[^@/]*@/, "")
      .replace(/[?#].*$/, "");
  }
}

/** The basic-auth credentials to send for `auth` (a token becomes `x-access-token:<token>`, as GitHub expects). */
export function credentialsOf(auth: GitAuth): GitCredentials {
  return "token" in auth ? { username: "x-access-token", password: auth.token } : auth;
}

/** Whether two http(s) URLs have the same origin (scheme, host and port); credentials never cross origins. */
export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
