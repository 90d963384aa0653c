/**
 * The options of the control-plane client: their types, their defaults (the only place they live), and the
 * checks at the door that name the option a caller got wrong.
 */
import { VERSION } from "../version.ts";
import type { RetryInfo } from "./retry.ts";

/** Options of `createControlPlaneClient`. */
export interface ClientOptions {
  /** The control plane's base URL, http(s) only, e.g. `https://runner.nuon.co`. */
  baseUrl: string;
  /** The runner token, sent as `Authorization: Bearer <token>`; never appears in errors. */
  token: string;
  /** The runner id used in `/v1/runners/{id}/…` paths. */
  runnerId: string;
  /** Version sent in `X-Nuon-Client-Version: runner:<version>` and `User-Agent`; default VERSION. */
  version?: string;
  /** Deadline of each attempt in milliseconds; default 10_000 (tailJobs uses its wait + 5_000). */
  requestTimeoutMs?: number;
  retry?: {
    /** Attempts in total, the first included; default 5. */
    maxAttempts?: number;
    /** First backoff ceiling in milliseconds; default 100. */
    baseDelayMs?: number;
    /** Largest backoff ceiling in milliseconds; default 5_000. */
    maxDelayMs?: number;
  };
  /** Skip TLS certificate verification; default false. */
  tlsInsecure?: boolean;
  /** Called before each backoff sleep. */
  onRetry?: (info: RetryInfo) => void;
  /** PEM certificate authorities trusted instead of Node's bundled roots (tests, private CAs); default none. */
  ca?: string | readonly string[];
}

/** Defaults of the optional options; durations in milliseconds. */
export const CLIENT_DEFAULTS = {
  requestTimeoutMs: 10_000,
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  tlsInsecure: false,
} as const;

/** The options with every default filled in, checked; durations in milliseconds. */
export interface ResolvedOptions {
  baseUrl: string;
  version: string;
  requestTimeoutMs: number;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  tlsInsecure: boolean;
}

/** Fills in the defaults and checks every option; throws a TypeError naming the first bad one. */
export function resolveOptions(opts: ClientOptions): ResolvedOptions {
  const where = "createControlPlaneClient";
  let url: URL | undefined;
  try {
    url = new URL(opts.baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(
      `${where}: baseUrl must be an http:// or https:// URL (got ${url ? `a ${url.protocol} URL` : "something that is not a URL"})`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError(`${where}: baseUrl must not carry credentials, a query or a fragment`);
  }
  if (typeof opts.token !== "string" || opts.token === "" || /[\s\p{Cc}]/u.test(opts.token)) {
    throw new TypeError(
      `${where}: token must be a non-empty string without whitespace or control characters`,
    );
  }
  if (typeof opts.runnerId !== "string" || opts.runnerId.trim() === "") {
    throw new TypeError(`${where}: runnerId must be a non-empty string`);
  }
  const version = opts.version ?? VERSION;
  if (typeof version !== "string" || version === "" || /[\s\p{Cc}]/u.test(version)) {
    throw new TypeError(`${where}: version must be a non-empty string without whitespace`);
  }
  const requestTimeoutMs = opts.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs;
  checkPositive(`${where}: requestTimeoutMs`, requestTimeoutMs);
  const maxAttempts = opts.retry?.maxAttempts ?? CLIENT_DEFAULTS.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new TypeError(`${where}: retry.maxAttempts must be an integer of at least 1 (got ${maxAttempts})`);
  }
  const baseDelayMs = opts.retry?.baseDelayMs ?? CLIENT_DEFAULTS.baseDelayMs;
  const maxDelayMs = opts.retry?.maxDelayMs ?? CLIENT_DEFAULTS.maxDelayMs;
  checkPositive(`${where}: retry.baseDelayMs`, baseDelayMs, true);
  checkPositive(`${where}: retry.maxDelayMs`, maxDelayMs, true);
  return {
    baseUrl: url.href.replace(/\/+$/, ""),
    version,
    requestTimeoutMs,
    retry: { maxAttempts, baseDelayMs, maxDelayMs },
    tlsInsecure: opts.tlsInsecure ?? CLIENT_DEFAULTS.tlsInsecure,
  };
}

/** Throws a TypeError naming `name` unless `value` is a finite number of milliseconds above 0 (or 0 if allowed). */
export function checkPositive(name: string, value: number, allowZero = false): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(
      `${name} must be a ${allowZero ? "non-negative" : "positive"} number of milliseconds (got ${value})`,
    );
  }
}
