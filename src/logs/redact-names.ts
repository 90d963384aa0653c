/**
 * Which names hold secrets: environment variable names and keys of parsed job plans. One table, so that a
 * reviewer sees every rule (and every deliberate exception) in one place.
 */

/** Where a rule applies: `env` = environment variable names, `key` = object keys in a plan or output. */
export type SecretNameScope = "env" | "key";

/** One rule: names matching `pattern` hold secrets (or, when `exclude`, never do; exclusions win). */
export interface SecretNameRule {
  readonly scope: SecretNameScope;
  readonly pattern: RegExp;
  readonly exclude?: boolean;
  /** Why the rule exists. */
  readonly why: string;
}

/**
 * The rules. Env names are matched as written (case-insensitive); object keys are normalised first
 * (lower case, `_`, `-`, `.` and spaces removed), so `secret_access_key`, `SecretAccessKey` and
 * `secret-access-key` are one key. An object key also counts when it looks like an env name that an env
 * rule matches, because plans carry env maps (`env_vars: {DB_PASSWORD: …}`).
 */
export const SECRET_NAME_RULES: readonly SecretNameRule[] = [
  {
    scope: "env",
    pattern: /_(?:TOKEN|SECRET|PASSWORD|KEY)$/i,
    why: "RUNNER_API_TOKEN, AWS_SECRET_ACCESS_KEY, …",
  },
  { scope: "env", pattern: /^(?:TOKEN|PASSWORD)$/i, why: "bare names used by tools" },
  {
    scope: "env",
    pattern: /PUBLIC_KEY$/i,
    exclude: true,
    why: "public keys are not secret, and redacting them hides useful output",
  },
  {
    scope: "key",
    pattern:
      /(?:token|password|passwd|secret|privatekey|secretkey|secretaccesskey|accesskey|apikey|clientsecret)$/,
    why: "plan credentials: static.secret_access_key, session_token, OCIAuth.Password, client_secret, …",
  },
  {
    scope: "key",
    pattern: /^(?:ca|cadata|cabundle|cert|certificate|publickey|kubeconfig)$/,
    exclude: true,
    why: "CA data and certificates are public; kube_config is a whole YAML document (its lines are not secrets)",
  },
];

function matches(scope: SecretNameScope, name: string): boolean {
  let hit = false;
  for (const rule of SECRET_NAME_RULES) {
    if (rule.scope !== scope || !rule.pattern.test(name)) continue;
    if (rule.exclude) return false;
    hit = true;
  }
  return hit;
}

/** Whether an environment variable named `name` holds a secret (see SECRET_NAME_RULES). */
export function isSecretEnvName(name: string): boolean {
  return matches("env", name);
}

/** Whether an object key holds a secret (see SECRET_NAME_RULES). */
export function isSecretKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[-_. ]/g, "");
  if (normalised.length === 0) return false;
  if (matches("key", normalised)) return true;
  return /^[A-Z][A-Z0-9_]*$/.test(key) && isSecretEnvName(key);
}

/** The secret values of `env`: values of variables whose names hold secrets. */
export function secretsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && isSecretEnvName(name)) out.push(value);
  }
  return out;
}

/**
 * The secret values in a parsed plan: string values (or strings in arrays) under keys that hold secrets,
 * found at any depth. `keyPattern`, when given, replaces the rules and is tested against the raw key.
 */
export function secretsFromObject(value: unknown, keyPattern?: RegExp): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const isSecret = keyPattern ? (k: string) => keyPattern.test(k) : isSecretKey;
  const visit = (v: unknown, underSecretKey: boolean): void => {
    if (typeof v === "string") {
      if (underSecretKey) out.push(v);
      return;
    }
    if (typeof v !== "object" || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const item of v) visit(item, underSecretKey);
      return;
    }
    for (const [k, child] of Object.entries(v)) visit(child, isSecret(k));
  };
  visit(value, false);
  return out;
}
