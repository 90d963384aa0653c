/**
 * Blob uploads of the registry client: monolithic (POST then PUT with the bytes, up to the chunk size),
 * chunked (PATCH chunks with Content-Range, then PUT `?digest=`; the stream is hashed on the way and nothing
 * is committed unless it matches), and cross-repository mounts (POST `?mount=&from=`; 201 mounted, 202
 * declined). A failed upload is cancelled (DELETE) on a best-effort basis.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { BlobRef, CallOptions } from "./client.ts";
import { computeDigest, Digester } from "./digest.ts";
import { OciError } from "./errors.ts";
import type { SendRequest, SendResponse, Transport } from "./transport.ts";

/** What the uploads need from the client. */
export interface BlobUploadContext {
  registry: string;
  transport: Transport;
  chunkSizeBytes: number;
  blobSubject(repository: string, digest: string): string;
}

/** The upload half of a RegistryClient. */
export interface BlobUploads {
  /** Uploads bytes as a blob (one request up to the chunk size, chunked beyond); returns digest and size. */
  pushBlob(
    repository: string,
    bytes: Uint8Array,
    options?: CallOptions,
  ): Promise<{ digest: string; size: number }>;
  /** Uploads a stream in chunks of `chunkSizeBytes`, checking it hashes to `blob.digest` before committing. */
  pushBlobStream(
    repository: string,
    blob: BlobRef,
    source: AsyncIterable<Uint8Array>,
    options?: CallOptions,
  ): Promise<void>;
  /** Uploads a file as a blob of the given digest (chunked when larger than the chunk size). */
  pushBlobFile(
    repository: string,
    blob: BlobRef & { size: number },
    file: string,
    options?: CallOptions,
  ): Promise<void>;
  /** Mounts a blob from another repository of this registry; false when the registry declined (then push it). */
  mountBlob(
    repository: string,
    digest: string,
    fromRepository: string,
    options?: CallOptions,
  ): Promise<boolean>;
}

/** Creates the upload methods for one registry. */
export function createBlobUploads(ctx: BlobUploadContext): BlobUploads {
  const { registry, transport, chunkSizeBytes, blobSubject } = ctx;
  const push = (repository: string) => [`repository:${repository}:pull,push`];
  const pull = (repository: string) => [`repository:${repository}:pull`];

  async function expect(
    res: SendResponse,
    req: SendRequest,
    statuses: readonly number[],
    doing: string,
  ): Promise<void> {
    if (!statuses.includes(res.status)) await transport.fail(res, req, doing);
  }

  async function startUpload(
    repository: string,
    signal: AbortSignal | undefined,
    subject: string,
  ): Promise<URL> {
    const req: SendRequest = {
      method: "POST",
      url: `/v2/${repository}/blobs/uploads/`,
      scopes: push(repository),
      subject,
      signal,
    };
    const res = await transport.send(req);
    await expect(res, req, [202], "starting an upload");
    await res.body.dump();
    return uploadLocation(res, subject);
  }

  function uploadLocation(res: SendResponse, subject: string): URL {
    const location = res.headers.location;
    if (typeof location !== "string" || location === "") {
      throw new OciError("PROTOCOL", `${subject}: registry ${registry} started an upload without a Location`);
    }
    return new URL(location, res.url);
  }

  async function cancelUpload(location: URL, repository: string): Promise<void> {
    try {
      const res = await transport.send({
        method: "DELETE",
        url: location.href,
        scopes: push(repository),
        subject: "upload",
      });
      await res.body.dump();
    } catch {
      // Best effort: the registry purges abandoned uploads itself.
    }
  }

  async function commitUpload(
    repository: string,
    location: URL,
    digest: string,
    body: Uint8Array | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set("digest", digest);
    const subject = blobSubject(repository, digest);
    const req: SendRequest = {
      method: "PUT",
      url: url.href,
      headers: { "content-type": "application/octet-stream" },
      ...(body === undefined ? {} : { body }),
      scopes: push(repository),
      subject,
      signal,
    };
    const res = await transport.send(req);
    await expect(res, req, [201, 204], "completing the upload");
    await res.body.dump();
  }

  const uploads: BlobUploads = {
    async pushBlob(repository, bytes, callOptions = {}) {
      const digest = computeDigest(bytes);
      const size = bytes.byteLength;
      if (size > chunkSizeBytes) {
        await uploads.pushBlobStream(
          repository,
          { digest, size },
          Readable.from([Buffer.from(bytes)]),
          callOptions,
        );
        return { digest, size };
      }
      const location = await startUpload(repository, callOptions.signal, blobSubject(repository, digest));
      try {
        await commitUpload(repository, location, digest, bytes, callOptions.signal);
      } catch (error) {
        await cancelUpload(location, repository);
        throw error;
      }
      return { digest, size };
    },

    async pushBlobStream(repository, blob, source, callOptions = {}) {
      const subject = blobSubject(repository, blob.digest);
      const digester = new Digester(blob.digest, `${subject} (being pushed)`, blob.size);
      let location = await startUpload(repository, callOptions.signal, subject);
      let offset = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const sendChunk = async (chunk: Buffer): Promise<void> => {
        const req: SendRequest = {
          method: "PATCH",
          url: location.href,
          headers: {
            "content-type": "application/octet-stream",
            "content-range": `${offset}-${offset + chunk.length - 1}`,
          },
          body: chunk,
          scopes: push(repository),
          subject,
          signal: callOptions.signal,
        };
        const res = await transport.send(req);
        await expect(res, req, [202], "uploading a chunk");
        await res.body.dump();
        const range = res.headers.range;
        if (typeof range === "string" && range !== `0-${offset + chunk.length - 1}`) {
          throw new OciError(
            "PROTOCOL",
            `${subject}: after a chunk ending at byte ${offset + chunk.length - 1} the registry reports range ${range}`,
          );
        }
        offset += chunk.length;
        location = uploadLocation(res, subject);
      };
      try {
        for await (const piece of source) {
          const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
          digester.update(bytes);
          pending.push(bytes);
          pendingBytes += bytes.length;
          while (pendingBytes >= chunkSizeBytes) {
            const all = Buffer.concat(pending);
            await sendChunk(all.subarray(0, chunkSizeBytes));
            const rest = all.subarray(chunkSizeBytes);
            pending = rest.length > 0 ? [rest] : [];
            pendingBytes = rest.length;
          }
        }
        if (pendingBytes > 0) await sendChunk(Buffer.concat(pending));
        digester.verify();
        await commitUpload(repository, location, blob.digest, undefined, callOptions.signal);
      } catch (error) {
        await cancelUpload(location, repository);
        throw error;
      }
    },

    async pushBlobFile(repository, blob, file, callOptions = {}) {
      await uploads.pushBlobStream(
        repository,
        blob,
        createReadStream(file, { highWaterMark: 1024 * 1024 }),
        callOptions,
      );
    },

    async mountBlob(repository, digest, fromRepository, callOptions = {}) {
      const url = new URL(`/v2/${repository}/blobs/uploads/`, transport.origin);
      url.searchParams.set("mount", digest);
      url.searchParams.set("from", fromRepository);
      const req: SendRequest = {
        method: "POST",
        url: url.href,
        scopes: [...push(repository), ...pull(fromRepository)],
        subject: blobSubject(repository, digest),
        signal: callOptions.signal,
      };
      const res = await transport.send(req);
      if (res.status === 201) {
        await res.body.dump();
        return true;
      }
      await expect(res, req, [202], "mounting the blob");
      await res.body.dump();
      await cancelUpload(uploadLocation(res, req.subject), repository);
      return false;
    },
  };
  return uploads;
}
