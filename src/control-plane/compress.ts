/**
 * The result-contents encoding of the Nuon runner (PROTOCOL.md §1.10, `pkg/plans` CompressPlan):
 * base64url(gzip(bytes)) with Go's `base64.URLEncoding` — the URL alphabet (`-`, `_`) WITH `=` padding —
 * and the mapping from the runner's `ResultInput` to the wire's `CreateResultRequest`. node:zlib is taken when
 * first needed (`process.getBuiltinModule`): most results carry no contents, and an idle runner needs none.
 */
import type { ResultInput } from "./api.ts";
import type { CreateResultRequest } from "./schemas.ts";

/** Characters Go's URLEncoding emits: the URL alphabet, then at most two `=` of padding. */
const URL_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/** Returns base64url(gzip(bytes)), padded like Go's `base64.URLEncoding`; strings are encoded as UTF-8. */
export function compress(bytes: Uint8Array | string): string {
  const gz = process
    .getBuiltinModule("node:zlib")
    .gzipSync(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  return gz.toString("base64").replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * Reverses `compress`: accepts the URL alphabet padded (Go's URLEncoding) or unpadded (RawURLEncoding).
 * Throws a RangeError on characters outside the URL alphabet and zlib's error on bytes that are not gzip.
 */
export function decompress(s: string): Buffer {
  const text = s.trim();
  if (!URL_BASE64.test(text)) {
    throw new RangeError("decompress: the input is not base64url (expected A-Z a-z 0-9 - _ and = padding)");
  }
  return process.getBuiltinModule("node:zlib").gunzipSync(Buffer.from(text, "base64url"));
}

/**
 * Maps a `ResultInput` to the body `createResult` posts: `contents` → `contents_compressed`,
 * `contentsDisplay` → `contents_display_compressed`, `errorMetadata` → `error_metadata`, and `errorCode` →
 * `error_code`, which defaults to 0 on failure (as the Nuon runner sends it). Absent inputs stay absent.
 */
export function buildResultBody(result: ResultInput): CreateResultRequest {
  const body: CreateResultRequest = { success: result.success };
  const errorCode = result.errorCode ?? (result.success ? undefined : 0);
  if (errorCode !== undefined) body.error_code = errorCode;
  if (result.errorMetadata !== undefined) body.error_metadata = result.errorMetadata;
  if (result.contents !== undefined) body.contents_compressed = compress(result.contents);
  if (result.contentsDisplay !== undefined) {
    body.contents_display_compressed = compress(result.contentsDisplay);
  }
  return body;
}
