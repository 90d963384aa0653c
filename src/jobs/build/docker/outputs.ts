/** Reading what kaniko reports: the digest file it writes after pushing. */
import { isDigest } from "../../../sources/oci/digest.ts";

/** The digest in kaniko's `--digest-file` contents; throws when it is missing or malformed. */
export function parseDigestFile(text: string | undefined): string {
  const digest = (text ?? "").trim();
  if (!isDigest(digest)) {
    throw new Error(
      digest === ""
        ? "kaniko finished without writing the image digest; the push may not have happened"
        : `kaniko wrote ${JSON.stringify(digest.slice(0, 100))} as the image digest, which is not a digest`,
    );
  }
  return digest;
}
