/**
 * OCI and Docker v2 manifests and indexes as zod schemas (loose: unknown fields are kept, and the raw bytes
 * are what gets copied, so nothing is lost), plus the fetched-manifest type the client returns.
 */
import * as z from "zod";
import { OciError } from "./errors.ts";
import { isImageManifestMediaType, isIndexMediaType } from "./media-types.ts";

/** A platform of an index entry. */
export const Platform = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
});
export type Platform = z.infer<typeof Platform>;

/** A content descriptor. */
export const Descriptor = z.looseObject({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  urls: z.array(z.string()).optional(),
  platform: Platform.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

/** An image manifest (OCI or Docker v2). */
export const ImageManifest = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: Descriptor,
  layers: z.array(Descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof ImageManifest>;

/** An index (OCI image index or Docker manifest list). */
export const ImageIndex = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(Descriptor),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageIndex = z.infer<typeof ImageIndex>;

/** A manifest as fetched: its exact bytes (which the digest is of), media type and digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** The parsed content of a fetched manifest. */
export type ParsedManifest =
  | { kind: "index"; index: ImageIndex }
  | { kind: "image"; manifest: ImageManifest };

/** Parses a fetched manifest by its media type; throws OciError UNSUPPORTED/PROTOCOL naming `subject`. */
export function parseManifest(fetched: FetchedManifest, subject: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(fetched.bytes.toString("utf8"));
  } catch (error) {
    throw new OciError("PROTOCOL", `${subject}: the manifest is not JSON`, { cause: error });
  }
  const schema = isIndexMediaType(fetched.mediaType)
    ? ImageIndex
    : isImageManifestMediaType(fetched.mediaType)
      ? ImageManifest
      : undefined;
  if (schema === undefined) {
    throw new OciError(
      "UNSUPPORTED",
      `${subject}: manifest media type ${JSON.stringify(fetched.mediaType)} is not supported`,
    );
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new OciError("PROTOCOL", `${subject}: malformed manifest: ${z.prettifyError(result.error)}`);
  }
  return schema === ImageIndex
    ? { kind: "index", index: result.data as ImageIndex }
    : { kind: "image", manifest: result.data as ImageManifest };
}

/** Serialises a manifest object for pushing (compact JSON; the digest is of exactly these bytes). */
export function encodeManifest(manifest: ImageManifest | ImageIndex): Buffer {
  return Buffer.from(JSON.stringify(manifest));
}

/** `os/arch[/variant]` of a platform, for messages and outputs. */
export function formatPlatform(platform: Platform | undefined): string {
  if (platform === undefined) return "unknown";
  return [platform.os, platform.architecture, platform.variant]
    .filter((part) => part !== undefined && part !== "")
    .join("/");
}
