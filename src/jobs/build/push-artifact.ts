/**
 * Pushing a one-layer artifact: the layer (a packed tar.gz file), its config blob, and an OCI image manifest
 * with annotations, tagged. Blobs the repository already has are not uploaded again.
 */
import type { ConnectedRepository } from "../../sources/oci/connect.ts";
import { computeDigest } from "../../sources/oci/digest.ts";
import { OCI_MANIFEST } from "../../sources/oci/media-types.ts";

/** What pushArtifact needs. */
export interface PushArtifactInput {
  repo: ConnectedRepository;
  tag: string;
  layer: {
    file: string;
    digest: string;
    size: number;
    mediaType: string;
    annotations?: Record<string, string>;
  };
  config: { mediaType: string; bytes: Uint8Array };
  /** Manifest annotations (keys sorted by the caller for reproducibility). */
  annotations: Record<string, string>;
  signal: AbortSignal;
}

/** Pushes the artifact; returns the manifest's digest and size. */
export async function pushArtifact(input: PushArtifactInput): Promise<{ digest: string; size: number }> {
  const { repo, signal } = input;
  const configDigest = computeDigest(input.config.bytes);
  if (!(await repo.client.hasBlob(repo.repository, configDigest, { signal }))) {
    await repo.client.pushBlob(repo.repository, input.config.bytes, { signal });
  }
  if (!(await repo.client.hasBlob(repo.repository, input.layer.digest, { signal }))) {
    await repo.client.pushBlobFile(
      repo.repository,
      { digest: input.layer.digest, size: input.layer.size },
      input.layer.file,
      { signal },
    );
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: input.config.mediaType, digest: configDigest, size: input.config.bytes.byteLength },
    layers: [
      {
        mediaType: input.layer.mediaType,
        digest: input.layer.digest,
        size: input.layer.size,
        ...(input.layer.annotations === undefined ? {} : { annotations: input.layer.annotations }),
      },
    ],
    ...(Object.keys(input.annotations).length === 0 ? {} : { annotations: input.annotations }),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await repo.client.putManifest(
    repo.repository,
    input.tag,
    { bytes, mediaType: OCI_MANIFEST },
    { signal },
  );
  return { digest, size: bytes.length };
}
