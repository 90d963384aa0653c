/**
 * Content digests (`sha256:<hex>`, also `sha512:<hex>`): parsing, computing, and checking content against the
 * digest it was asked for. Every manifest and blob the client reads goes through `verifyDigest` or a
 * `Digester`, so tampered or truncated content is an error, never a silent success.
 */
import { createHash, type Hash } from "node:crypto";
import { OciError } from "./errors.ts";

/** Hex length of each supported algorithm. */
const HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
/** A supported digest algorithm. */
export type DigestAlgorithm = keyof typeof HEX_LENGTH;

/** Whether `value` is a well-formed digest of a supported algorithm. */
export function isDigest(value: string): boolean {
  const match = /^(sha256|sha512):([a-f0-9]+)$/.exec(value);
  return match !== null && match[2]?.length === HEX_LENGTH[match[1] as DigestAlgorithm];
}

/** The algorithm of `digest`; throws OciError INVALID for a malformed or unsupported digest. */
export function digestAlgorithm(digest: string): DigestAlgorithm {
  if (!isDigest(digest)) {
    throw new OciError(
      "INVALID",
      `${JSON.stringify(digest)} is not a sha256 or sha512 digest (algorithm:hex)`,
    );
  }
  return digest.slice(0, digest.indexOf(":")) as DigestAlgorithm;
}

/** The digest of `bytes` (default sha256). */
export function computeDigest(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** What is being checked, for messages: e.g. `blob sha256:… of 127.0.0.1:5000/app`. */
export type DigestSubject = string;

/** Throws OciError DIGEST_MISMATCH unless `bytes` hash to `expected`. */
export function verifyDigest(bytes: Uint8Array, expected: string, subject: DigestSubject): void {
  const actual = computeDigest(bytes, digestAlgorithm(expected));
  if (actual !== expected) throw mismatch(subject, expected, actual);
}

/** Hashes content as it streams; `verify()` at the end checks digest and (when known) size. */
export class Digester {
  readonly expected: string;
  readonly subject: DigestSubject;
  readonly expectedSize: number | undefined;
  #hash: Hash;
  #size = 0;

  constructor(expected: string, subject: DigestSubject, expectedSize?: number) {
    this.expected = expected;
    this.subject = subject;
    this.expectedSize = expectedSize;
    this.#hash = createHash(digestAlgorithm(expected));
  }

  /** Feeds a chunk; throws DIGEST_MISMATCH as soon as more bytes arrive than the expected size. */
  update(chunk: Uint8Array): void {
    this.#size += chunk.byteLength;
    if (this.expectedSize !== undefined && this.#size > this.expectedSize) {
      throw new OciError(
        "DIGEST_MISMATCH",
        `${this.subject} is larger than the ${this.expectedSize} bytes its descriptor says; refusing it`,
      );
    }
    this.#hash.update(chunk);
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** Throws DIGEST_MISMATCH unless everything fed hashes to the expected digest (and has the expected size). */
  verify(): void {
    if (this.expectedSize !== undefined && this.#size !== this.expectedSize) {
      throw new OciError(
        "DIGEST_MISMATCH",
        `${this.subject} has ${this.#size} bytes but its descriptor says ${this.expectedSize}; refusing it`,
      );
    }
    const actual = `${digestAlgorithm(this.expected)}:${this.#hash.digest("hex")}`;
    if (actual !== this.expected) throw mismatch(this.subject, this.expected, actual);
  }
}

function mismatch(subject: DigestSubject, expected: string, actual: string): OciError {
  return new OciError(
    "DIGEST_MISMATCH",
    `${subject} failed verification: its content hashes to ${actual}, not ${expected}; the content was discarded`,
  );
}
