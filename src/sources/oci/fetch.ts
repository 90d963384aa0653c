/**
 * Fetching an OCI artifact into a directory, for deploy handlers (`src_registry` + `src_tag` of a deploy
 * plan). The manifest is resolved (an index holding exactly one manifest is followed), every layer is
 * downloaded and verified against its digest, then placed in `dir`:
 * - tar and tar.gz layers (this runner's terraform-module and helm-chart artifacts, image layers) are
 *   extracted safely (a helm chart lands in `<dir>/<chart name>/`);
 * - layers with an `org.opencontainers.image.title` annotation (one file per layer, as ORAS and the Nuon Go
 *   runner push them) are written to `<dir>/<title>`, or extracted there when marked as a directory.
 * Anything else is refused, as are titles that would leave `dir`.
 */
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { resolveInside } from "../../workspace/safe-path.ts";
import { unpackArchiveFile } from "./artifact.ts";
import { connectRepository, type RegistryConnectOptions } from "./connect.ts";
import { OciError } from "./errors.ts";
import { type Descriptor, type ImageManifest, parseManifest } from "./manifest.ts";
import {
  ANNOTATION_ORAS_UNPACK,
  ANNOTATION_TITLE,
  isTarGzipMediaType,
  isTarMediaType,
} from "./media-types.ts";

/** Options of fetchOciSource. */
export interface FetchOciSourceOptions extends RegistryConnectOptions {
  /** The plan's `OCIRegistryRepository` (raw JSON or parsed). */
  registry: unknown;
  /** Tag to fetch; `digest` wins when both are given. */
  tag?: string | undefined;
  digest?: string | undefined;
  /** Directory to fill; created when missing, must be empty. */
  dir: string;
  signal?: AbortSignal | undefined;
}

/** What fetchOciSource placed. */
export interface FetchedSource {
  dir: string;
  /** Digest of the artifact's manifest. */
  digest: string;
  /** `registry/repository@digest`. */
  ref: string;
  /** The manifest's config media type (says what kind of artifact it is). */
  configMediaType: string;
  /** The manifest's annotations. */
  annotations: Record<string, string>;
  /** Relative paths of the files written. */
  files: string[];
}

/** Fetches an artifact into `dir` (see the module comment). */
export async function fetchOciSource(options: FetchOciSourceOptions): Promise<FetchedSource> {
  const { signal } = options;
  const repo = connectRepository(options.registry, options);
  const reference = options.digest ?? options.tag;
  if (reference === undefined || reference === "") {
    throw new OciError(
      "INVALID",
      `fetching from ${repo.name} needs a tag or a digest; the plan gave neither`,
    );
  }
  let fetched = await repo.client.getManifest(repo.repository, reference, { signal });
  let parsed = parseManifest(fetched, `manifest ${repo.name}:${reference}`);
  if (parsed.kind === "index") {
    const only = parsed.index.manifests.length === 1 ? parsed.index.manifests[0] : undefined;
    if (only === undefined) {
      throw new OciError(
        "UNSUPPORTED",
        `${repo.name}:${reference} is an index of ${parsed.index.manifests.length} manifests; a source artifact must be a single manifest`,
      );
    }
    fetched = await repo.client.getManifest(repo.repository, only.digest, { signal });
    parsed = parseManifest(fetched, `manifest ${repo.name}@${only.digest}`);
    if (parsed.kind !== "image")
      throw new OciError("UNSUPPORTED", `${repo.name}:${reference} nests indexes; not supported as a source`);
  }
  const manifest: ImageManifest = parsed.manifest;

  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0)
    throw new OciError("INVALID", `the directory ${dir} to fetch ${repo.name} into is not empty`);
  const scratch = await mkdtemp(path.join(path.dirname(dir), `.${path.basename(dir)}.layers-`));
  const files: string[] = [];
  try {
    for (const [index, layer] of manifest.layers.entries()) {
      signal?.throwIfAborted();
      const placement = placementOf(layer, `${repo.name}@${fetched.digest}`);
      const download = path.join(scratch, `layer-${index}`);
      await repo.client.downloadBlob(repo.repository, { digest: layer.digest, size: layer.size }, download, {
        signal,
      });
      if (placement.kind === "extract") {
        const into = placement.title === undefined ? dir : resolveInside(dir, placement.title);
        await mkdir(into, { recursive: true, mode: 0o755 });
        const result = await unpackArchiveFile(download, into, { ...(signal ? { signal } : {}) });
        const prefix = path.relative(dir, into);
        files.push(...result.files.map((file) => (prefix === "" ? file : `${prefix}/${file}`)));
      } else {
        const target = resolveInside(dir, placement.title);
        await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
        await rename(download, target);
        files.push(path.relative(dir, target).split(path.sep).join("/"));
      }
    }
  } catch (error) {
    // Leave the directory as it was given: empty.
    for (const entry of await readdir(dir).catch(() => []))
      await rm(path.join(dir, entry), { recursive: true, force: true });
    throw error;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return {
    dir,
    digest: fetched.digest,
    ref: `${repo.name}@${fetched.digest}`,
    configMediaType: manifest.config.mediaType,
    annotations: manifest.annotations ?? {},
    files,
  };
}

type Placement = { kind: "extract"; title?: string } | { kind: "file"; title: string };

/** How a layer is placed: extracted (tarballs, or titled layers marked for unpacking) or written as a file. */
function placementOf(layer: Descriptor, artifact: string): Placement {
  const title = layer.annotations?.[ANNOTATION_TITLE];
  const unpack = layer.annotations?.[ANNOTATION_ORAS_UNPACK] === "true";
  if (title !== undefined && title !== "") {
    if (title.includes("\0") || path.posix.isAbsolute(title) || title.split("/").includes("..")) {
      throw new OciError(
        "INVALID",
        `layer ${layer.digest} of ${artifact} has an unsafe title ${JSON.stringify(title)}; refusing it`,
      );
    }
    return unpack ? { kind: "extract", title } : { kind: "file", title };
  }
  if (isTarGzipMediaType(layer.mediaType) || isTarMediaType(layer.mediaType)) return { kind: "extract" };
  throw new OciError(
    "UNSUPPORTED",
    `layer ${layer.digest} of ${artifact} has media type ${JSON.stringify(layer.mediaType)} and no title; cannot place it in a directory`,
  );
}
