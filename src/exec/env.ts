/**
 * The environment a job's process starts from. Jobs never inherit the runner's environment: `baseEnv` keeps a
 * short allowlist (paths, locale, proxies, CA bundles), so the runner's own `RUNNER_API_TOKEN`, its other
 * `RUNNER_*` settings and anything else in `process.env` cannot leak into a job. Callers merge the job's own
 * variables on top: `{ ...baseEnv(process.env), ...jobEnv }`.
 */

/** Variables copied from the runner's environment when set. */
export const BASE_ENV_NAMES: readonly string[] = [
  "PATH",
  "HOME",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "USER",
  "SHELL",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
];

/** Prefixes copied when set (locale categories such as LC_ALL, LC_CTYPE). */
export const BASE_ENV_PREFIXES: readonly string[] = ["LC_"];

/** Returns only the allowlisted variables of `processEnv` (a copy; unset and non-string values dropped). */
export function baseEnv(processEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(processEnv)) {
    if (typeof value !== "string") continue;
    if (BASE_ENV_NAMES.includes(name) || BASE_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      out[name] = value;
    }
  }
  return out;
}
