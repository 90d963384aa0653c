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

/** Random bytes drawn per `randomBytes` call: one call serves many ids (a call per id was a cost of its own). */
const POOL_BYTES = 4096;

/** Unused random bytes for ids, refilled when short: a cache of entropy, like Node's own for randomUUID. */
const pool = { bytes: Buffer.alloc(0), offset: 0 };

/** A new id: `prefix` + 23 random lower-case alphanumerics (26 characters in all, like Nuon's). */
export function newId(prefix: string): string {
  if (pool.offset + 23 > pool.bytes.length) {
    pool.bytes = randomBytes(POOL_BYTES);
    pool.offset = 0;
  }
  const bytes = pool.bytes;
  let out = prefix;
  for (let i = pool.offset, end = pool.offset + 23; i < end; i++)
    out += ALPHABET[bytes[i]! % ALPHABET.length];
  pool.offset += 23;
  return out;
}

/** A new secret token: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** The last timestamp formatted: requests arriving within one millisecond share it. */
const lastIso = { ms: Number.NaN, text: "" };

/** The RFC 3339 timestamp of `ms` (epoch milliseconds). */
export function isoAt(ms: number): string {
  if (ms !== lastIso.ms) {
    lastIso.text = new Date(ms).toISOString();
    lastIso.ms = ms;
  }
  return lastIso.text;
}
