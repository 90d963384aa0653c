/**
 * Downloads a new runner binary with undici (TLS verified) into `<binary>.new`, hashing as it streams, and
 * keeps it only when its sha256 matches. HTTPS is required except for loopback addresses (local mirrors,
 * tests); the checksum is what makes the bytes trustworthy either way.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { fetch } from "undici";

/** Largest binary accepted: 1 GiB. */
export const DEFAULT_MAX_BINARY_BYTES = 1024 * 1024 * 1024;

/** A downloaded file whose checksum did not match; nothing was kept. */
export class ChecksumMismatchError extends Error {
  override readonly name = "ChecksumMismatchError";
}

/** Throws unless `url` is https, or http to a loopback host. */
export function assertDownloadUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new Error(`the binary URL "${url}" is not a URL`, { cause: err });
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol === "https:" || (parsed.protocol === "http:" && loopback)) return parsed;
  throw new Error(
    `the binary URL must be https (http only for loopback), got ${parsed.protocol}//${parsed.host}`,
  );
}

/** Normalizes a sha256 hex digest; throws unless it is 64 hexadecimal digits. */
export function parseSha256(text: string): string {
  const hex = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error("a sha256 must be 64 hexadecimal digits");
  return hex;
}

/** Options of downloadVerified. */
export interface DownloadOptions {
  url: string;
  /** Expected sha256 (hex). */
  sha256: string;
  /** Where the verified file ends up (mode 0755); replaced if present, removed on any failure. */
  dest: string;
  signal?: AbortSignal;
  /** Default 1 GiB. */
  maxBytes?: number;
}

/** Downloads, hashes and fsyncs; resolves with the size once the checksum matched. */
export async function downloadVerified(options: DownloadOptions): Promise<{ bytes: number }> {
  const url = assertDownloadUrl(options.url);
  const want = parseSha256(options.sha256);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BINARY_BYTES;
  const res = await fetch(url, options.signal !== undefined ? { signal: options.signal } : {});
  if (!res.ok || res.body === null) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`downloading ${url.origin}${url.pathname} failed: HTTP ${res.status}`);
  }
  await rm(options.dest, { force: true });
  const hash = createHash("sha256");
  let bytes = 0;
  const handle = await open(options.dest, "wx", 0o755);
  try {
    for await (const chunk of res.body) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new Error(`the binary is larger than ${maxBytes} bytes; refusing it`);
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.chmod(0o755);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(options.dest, { force: true });
    throw err;
  }
  const got = hash.digest("hex");
  if (got !== want) {
    await rm(options.dest, { force: true });
    throw new ChecksumMismatchError(
      `sha256 mismatch for ${url.origin}${url.pathname}: expected ${want}, got ${got}; the binary was not replaced`,
    );
  }
  return { bytes };
}

/** Fetches `<url>.sha256` (the `sha256sum` format: the digest first) when the job names no checksum. */
export async function fetchSha256Sidecar(url: string, signal?: AbortSignal): Promise<string> {
  const sidecar = assertDownloadUrl(`${url}.sha256`);
  const res = await fetch(sidecar, signal !== undefined ? { signal } : {});
  const text = await res.text();
  if (!res.ok)
    throw new Error(`no checksum: ${sidecar.origin}${sidecar.pathname} answered HTTP ${res.status}`);
  return parseSha256(text.trim().split(/\s+/)[0] ?? "");
}

/** The sha256 (hex) of a file on disk; undefined when it does not exist. */
export async function sha256OfFile(file: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return hash.digest("hex");
}
