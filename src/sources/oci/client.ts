/**
 * A client for one OCI distribution registry (the `/v2/` API): manifests (GET/HEAD/PUT, every OCI and
 * Docker v2 media type), blobs (HEAD, GET streamed and verified, monolithic and chunked uploads,
 * cross-repository mounts). Authentication is answered per challenge (auth.ts). Every manifest and blob read
 * is checked against its digest before it is returned (or, streamed, before the stream ends), so tampered
 * content fails with DIGEST_MISMATCH. No retries here: a failed operation throws an OciError naming the
 * registry and the reference.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Dispatcher, getGlobalDispatcher } from "undici";
import { VERSION } from "../../version.ts";
import { createAuthorizer } from "./auth.ts";
import { computeDigest, Digester, digestAlgorithm, isDigest, verifyDigest } from "./digest.ts";
import { OciError } from "./errors.ts";
import type { FetchedManifest } from "./manifest.ts";
import { MANIFEST_MEDIA_TYPES } from "./media-types.ts";
import { registryApiHost } from "./reference.ts";
import type { RegistryCredentials } from "./registry-config.ts";
import { createTransport, type SendRequest, type SendResponse } from "./transport.ts";
import { type BlobUploads, createBlobUploads } from "./upload.ts";

/** Default size of one chunk of a chunked upload, and the largest blob uploaded in one request: 8 MiB. */
export const DEFAULT_CHUNK_SIZE_BYTES = 8 * 1024 * 1024;
/** Default deadline for response headers and for each gap in a body, in ms: 120 s. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 120_000;
/** Largest manifest accepted, in bytes: 4 MiB (the distribution registry's own limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Options of createRegistryClient. */
export interface RegistryClientOptions {
  /** Registry host[:port] (`docker.io` is spoken to at registry-1.docker.io). */
  registry: string;
  /** `http` for a plain-HTTP registry; default `https` (TLS verified by the dispatcher). */
  scheme?: "https" | "http";
  /** Default anonymous. */
  credentials?: RegistryCredentials;
  /** Default undici's global dispatcher. */
  dispatcher?: Dispatcher;
  /** Chunk size of chunked uploads, and the largest monolithic upload, in bytes; default 8 MiB. */
  chunkSizeBytes?: number;
  /** Deadline for headers and each body gap, in ms; default 120 000. */
  timeoutMs?: number;
  /** Default `runner/<version>`. */
  userAgent?: string;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** What is known of a blob to fetch: its digest, and its size when a descriptor says. */
export interface BlobRef {
  digest: string;
  size?: number;
}

/** What a HEAD of a manifest tells. */
export interface ManifestHead {
  digest: string | undefined;
  mediaType: string | undefined;
  size: number | undefined;
}

/** A client of one registry; every method takes the repository it acts on. */
export interface RegistryClient extends BlobUploads {
  /** The registry host as configured. */
  readonly registry: string;
  /** `scheme://host[:port]` the API is spoken to; equal origins mean blobs can be mounted across repositories. */
  readonly origin: string;
  /** Chunk size of uploads, in bytes. */
  readonly chunkSizeBytes: number;
  /** Fetches a manifest by tag or digest, verified; NOT_FOUND names the reference. */
  getManifest(repository: string, reference: string, options?: CallOptions): Promise<FetchedManifest>;
  /** HEADs a manifest; undefined when it does not exist. */
  headManifest(
    repository: string,
    reference: string,
    options?: CallOptions,
  ): Promise<ManifestHead | undefined>;
  /** Pushes a manifest under a tag or its digest; returns its digest. */
  putManifest(
    repository: string,
    reference: string,
    manifest: { bytes: Uint8Array; mediaType: string },
    options?: CallOptions,
  ): Promise<string>;
  /** Whether the repository has the blob. */
  hasBlob(repository: string, digest: string, options?: CallOptions): Promise<boolean>;
  /** Fetches a (small) blob into memory, verified. */
  getBlob(repository: string, blob: BlobRef, options?: CallOptions): Promise<Buffer>;
  /** Streams a blob; the stream throws DIGEST_MISMATCH at its end (before finishing) when the content is wrong. */
  openBlob(repository: string, blob: BlobRef, options?: CallOptions): AsyncGenerator<Buffer>;
  /** Downloads a blob to `file`, verified; a wrong download leaves no file behind. */
  downloadBlob(repository: string, blob: BlobRef, file: string, options?: CallOptions): Promise<void>;
}

/** Creates a client of one registry. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const scheme = options.scheme ?? "https";
  const registry = options.registry;
  const origin = `${scheme}://${registryApiHost(registry)}`;
  const dispatcher = options.dispatcher ?? getGlobalDispatcher();
  const timeoutMs = options.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  const userAgent = options.userAgent ?? `runner/${VERSION}`;
  const chunkSizeBytes = options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES;
  const authorizer = createAuthorizer({
    registry,
    scheme,
    credentials: options.credentials ?? { kind: "anonymous" },
    dispatcher,
    timeoutMs,
    userAgent,
  });
  const transport = createTransport({ registry, origin, authorizer, dispatcher, timeoutMs, userAgent });
  const pull = (repository: string) => [`repository:${repository}:pull`];
  const push = (repository: string) => [`repository:${repository}:pull,push`];
  const manifestSubject = (repository: string, reference: string) =>
    `manifest ${registry}/${repository}${isDigest(reference) ? "@" : ":"}${reference}`;
  const blobSubject = (repository: string, digest: string) => `blob ${digest} of ${registry}/${repository}`;

  async function expect(
    res: SendResponse,
    req: SendRequest,
    statuses: readonly number[],
    doing: string,
  ): Promise<void> {
    if (!statuses.includes(res.status)) await transport.fail(res, req, doing);
  }

  const uploads = createBlobUploads({ registry, transport, chunkSizeBytes, blobSubject });
  const client: RegistryClient = {
    registry,
    origin: transport.origin,
    chunkSizeBytes,

    async getManifest(repository, reference, callOptions = {}) {
      const subject = manifestSubject(repository, reference);
      const req: SendRequest = {
        method: "GET",
        url: `/v2/${repository}/manifests/${reference}`,
        headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
        scopes: pull(repository),
        subject,
        signal: callOptions.signal,
        followRedirects: true,
      };
      const res = await transport.send(req);
      await expect(res, req, [200], "fetching the manifest");
      const bytes = await readLimited(res, MAX_MANIFEST_BYTES, subject);
      if (isDigest(reference)) verifyDigest(bytes, reference, subject);
      const headerDigest = res.headers["docker-content-digest"];
      if (typeof headerDigest === "string" && isDigest(headerDigest))
        verifyDigest(bytes, headerDigest, subject);
      const mediaType = manifestMediaType(bytes, res.headers["content-type"]);
      const digest = isDigest(reference) ? reference : computeDigest(bytes);
      return { bytes, mediaType, digest };
    },

    async headManifest(repository, reference, callOptions = {}) {
      const req: SendRequest = {
        method: "HEAD",
        url: `/v2/${repository}/manifests/${reference}`,
        headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
        scopes: pull(repository),
        subject: manifestSubject(repository, reference),
        signal: callOptions.signal,
        followRedirects: true,
      };
      const res = await transport.send(req);
      if (res.status === 404) {
        await res.body.dump();
        return undefined;
      }
      await expect(res, req, [200], "looking up the manifest");
      await res.body.dump();
      const digest = res.headers["docker-content-digest"];
      const type = res.headers["content-type"];
      const length = Number(res.headers["content-length"]);
      return {
        digest: typeof digest === "string" && isDigest(digest) ? digest : undefined,
        mediaType: typeof type === "string" ? type.split(";")[0]?.trim() : undefined,
        size: Number.isFinite(length) ? length : undefined,
      };
    },

    async putManifest(repository, reference, manifest, callOptions = {}) {
      const subject = manifestSubject(repository, reference);
      const digest = computeDigest(manifest.bytes);
      if (isDigest(reference) && reference !== digest) {
        throw new OciError(
          "DIGEST_MISMATCH",
          `${subject}: the manifest to push hashes to ${digest}, not the digest it is pushed under`,
        );
      }
      const req: SendRequest = {
        method: "PUT",
        url: `/v2/${repository}/manifests/${reference}`,
        headers: { "content-type": manifest.mediaType },
        body: manifest.bytes,
        scopes: push(repository),
        subject,
        signal: callOptions.signal,
      };
      const res = await transport.send(req);
      await expect(res, req, [201, 200, 204], "pushing the manifest");
      await res.body.dump();
      const answered = res.headers["docker-content-digest"];
      if (
        typeof answered === "string" &&
        isDigest(answered) &&
        digestAlgorithm(answered) === "sha256" &&
        answered !== digest
      ) {
        throw new OciError(
          "DIGEST_MISMATCH",
          `${subject}: the registry stored the manifest as ${answered}, not ${digest}`,
        );
      }
      return digest;
    },

    async hasBlob(repository, digest, callOptions = {}) {
      const req: SendRequest = {
        method: "HEAD",
        url: `/v2/${repository}/blobs/${digest}`,
        scopes: pull(repository),
        subject: blobSubject(repository, digest),
        signal: callOptions.signal,
        followRedirects: true,
      };
      const res = await transport.send(req);
      await res.body.dump();
      if (res.status === 404) return false;
      await expect(res, req, [200], "looking up the blob");
      return true;
    },

    async getBlob(repository, blob, callOptions = {}) {
      const chunks: Buffer[] = [];
      for await (const chunk of client.openBlob(repository, blob, callOptions)) chunks.push(chunk);
      return Buffer.concat(chunks);
    },

    async *openBlob(repository, blob, callOptions = {}) {
      const subject = blobSubject(repository, blob.digest);
      const digester = new Digester(blob.digest, subject, blob.size);
      const req: SendRequest = {
        method: "GET",
        url: `/v2/${repository}/blobs/${blob.digest}`,
        scopes: pull(repository),
        subject,
        signal: callOptions.signal,
        followRedirects: true,
      };
      const res = await transport.send(req);
      await expect(res, req, [200], "fetching the blob");
      try {
        for await (const chunk of res.body) {
          const bytes = chunk as Buffer;
          digester.update(bytes);
          yield bytes;
        }
      } finally {
        res.body.destroy();
      }
      digester.verify();
    },

    async downloadBlob(repository, blob, file, callOptions = {}) {
      try {
        await pipeline(
          Readable.from(client.openBlob(repository, blob, callOptions)),
          createWriteStream(file, { mode: 0o600 }),
        );
      } catch (error) {
        await rm(file, { force: true });
        throw error;
      }
    },

    ...uploads,
  };
  return client;
}

async function readLimited(res: SendResponse, maxBytes: number, subject: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      res.body.destroy();
      throw new OciError(
        "PROTOCOL",
        `${subject}: the manifest is larger than ${maxBytes} bytes; refusing it`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The manifest's own `mediaType` field, else the Content-Type header without parameters. */
function manifestMediaType(bytes: Buffer, contentType: string | string[] | undefined): string {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown };
    if (typeof parsed.mediaType === "string" && parsed.mediaType !== "") return parsed.mediaType;
  } catch {
    // Not JSON: the caller's parse reports it.
  }
  const header = Array.isArray(contentType) ? contentType[0] : contentType;
  return (header ?? "").split(";")[0]?.trim() ?? "";
}
