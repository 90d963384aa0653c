/** Identifiers and timestamps shaped like Nuon's: a three-letter prefix plus 23 random base-36 characters. */
import { randomBytes } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Id prefixes by kind of object. */
export const ID_PREFIX = {
  org: "org",
  runner: "run",
  runnerGroup: "rgr",
  settings: "rgs",
  job: "rjb",
  execution: "rje",
  result: "rjr",
  outputs: "rjo",
  heartbeat: "rhb",
  healthCheck: "rhc",
  process: "rpr",
  shutdown: "rps",
  logStream: "lst",
  workspace: "tfw",
  workspaceState: "tfs",
} as const;

/** A new id: `prefix` + 23 random lower-case alphanumerics (26 characters in all, like Nuon's). */
export function newId(prefix: string): string {
  const bytes = randomBytes(23);
  let out = prefix;
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/** A new secret token: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** The RFC 3339 timestamp of `ms` (epoch milliseconds). */
export function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}
