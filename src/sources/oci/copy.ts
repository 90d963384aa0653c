/**
 * Copying an image or artifact between repositories, registry to registry: the manifest (or index, with
 * every platform's manifest, recursively), its config and layers. A blob the destination already has is
 * skipped; within one registry it is mounted from the source repository; otherwise it is streamed (small
 * blobs in one request, large ones in chunks) and verified on the way. The manifests are copied byte for
 * byte, so the destination's digest equals the source's.
 */

import type { RegistryClient } from "./client.ts";
import { type Descriptor, formatPlatform, parseManifest } from "./manifest.ts";
import { isNonDistributableMediaType } from "./media-types.ts";

/** One side of a copy. */
export interface CopyEndpoint {
  client: RegistryClient;
  repository: string;
}

/** Options of copyImage. */
export interface CopyImageOptions {
  from: CopyEndpoint;
  /** Tag or digest to copy. */
  reference: string;
  to: CopyEndpoint;
  /** Tag to push the copy under (the top manifest). */
  tag: string;
  signal?: AbortSignal | undefined;
  /** Progress, for the job log: one call per blob or manifest handled. */
  onProgress?: (event: CopyProgress) => void;
}

/** What happened to one piece of the copy. */
export interface CopyProgress {
  kind: "blob" | "manifest";
  digest: string;
  size: number;
  /** `copied` (streamed), `mounted`, `exists` (already there), `skipped` (non-distributable). */
  action: "copied" | "mounted" | "exists" | "skipped";
}

/** What copyImage did. */
export interface CopyResult {
  /** Digest of the top manifest (same in both repositories). */
  digest: string;
  mediaType: string;
  size: number;
  /** `os/arch[/variant]` of each platform of an index; empty for a single manifest. */
  platforms: string[];
  /** Blobs streamed, mounted, or already present. */
  blobs: { copied: number; mounted: number; existing: number };
}

/** Copies `from:reference` to `to:tag` (see the module comment). */
export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  const { from, to, signal } = options;
  const sameRegistry = from.client.origin === to.client.origin;
  const blobs = { copied: 0, mounted: 0, existing: 0 };
  const seenBlobs = new Set<string>();
  const progress = (event: CopyProgress) => options.onProgress?.(event);

  async function copyBlob(descriptor: Descriptor): Promise<void> {
    if (seenBlobs.has(descriptor.digest)) return;
    seenBlobs.add(descriptor.digest);
    const event = { kind: "blob" as const, digest: descriptor.digest, size: descriptor.size };
    if (isNonDistributableMediaType(descriptor.mediaType) && (descriptor.urls?.length ?? 0) > 0) {
      progress({ ...event, action: "skipped" });
      return;
    }
    if (await to.client.hasBlob(to.repository, descriptor.digest, { signal })) {
      blobs.existing++;
      progress({ ...event, action: "exists" });
      return;
    }
    if (sameRegistry && from.repository !== to.repository) {
      if (await to.client.mountBlob(to.repository, descriptor.digest, from.repository, { signal })) {
        blobs.mounted++;
        progress({ ...event, action: "mounted" });
        return;
      }
    }
    const blob = { digest: descriptor.digest, size: descriptor.size };
    if (descriptor.size <= to.client.chunkSizeBytes) {
      const bytes = await from.client.getBlob(from.repository, blob, { signal });
      await to.client.pushBlob(to.repository, bytes, { signal });
    } else {
      await to.client.pushBlobStream(
        to.repository,
        blob,
        from.client.openBlob(from.repository, blob, { signal }),
        { signal },
      );
    }
    blobs.copied++;
    progress({ ...event, action: "copied" });
  }

  async function copyManifest(
    reference: string,
    targetReference: string,
  ): Promise<{ digest: string; mediaType: string; size: number; platforms: string[] }> {
    const fetched = await from.client.getManifest(from.repository, reference, { signal });
    const subject = `manifest ${from.client.registry}/${from.repository}@${fetched.digest}`;
    const parsed = parseManifest(fetched, subject);
    const platforms: string[] = [];
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests) {
        await copyManifest(child.digest, child.digest);
        if (child.platform !== undefined) platforms.push(formatPlatform(child.platform));
      }
    } else {
      await copyBlob(parsed.manifest.config);
      for (const layer of parsed.manifest.layers) await copyBlob(layer);
    }
    await to.client.putManifest(
      to.repository,
      targetReference,
      { bytes: fetched.bytes, mediaType: fetched.mediaType },
      { signal },
    );
    progress({ kind: "manifest", digest: fetched.digest, size: fetched.bytes.length, action: "copied" });
    return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length, platforms };
  }

  const top = await copyManifest(options.reference, options.tag);
  return { ...top, blobs };
}
