/**
 * Decoding a saved plan from `apply_plan_contents` (pure). Nuon's control plane sends the tfplan as std base64
 * (PROTOCOL.md §1.8); a runner's own result contents are base64url(gzip(tfplan)) (§1.10), and those are
 * accepted too: base64 of either alphabet is decoded, then gunzipped when the bytes are gzip. The result must
 * be a tfplan, which is a zip archive.
 */
import { gunzipSync } from "node:zlib";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Returns the tfplan bytes of `contents`; throws an Error naming what is wrong with it. */
export function decodeSavedPlan(contents: string): Buffer {
  const text = contents.replace(/\s+/g, "");
  if (text === "") throw new Error("apply_plan_contents is empty: there is no saved plan to apply");
  if (!BASE64.test(text)) throw new Error("apply_plan_contents is not base64: cannot read the saved plan");
  let bytes: Buffer = Buffer.from(text, "base64");
  if (startsWith(bytes, GZIP_MAGIC)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new Error("apply_plan_contents looks gzip-compressed but does not decompress", { cause: err });
    }
  }
  if (!startsWith(bytes, ZIP_MAGIC)) {
    throw new Error(
      "apply_plan_contents does not hold a terraform plan file (expected a tfplan zip archive)",
    );
  }
  return bytes;
}

function startsWith(bytes: Buffer, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}
