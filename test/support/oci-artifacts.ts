/**
 * Building artifacts for deploy-source tests: pushing layers with a config to a test registry (as ORAS,
 * Nuon's runner archive, or a plain tarball would lay them out), and writing tar entries by hand, including
 * the unsafe ones (`../` paths, links leading out) that the runner's own tar writer refuses to produce.
 */
import { gzipSync } from "node:zlib";
import type { RegistryClient } from "../../src/sources/oci/client.ts";

/** One layer to push. */
export interface TestLayer {
  bytes: Buffer;
  mediaType: string;
  annotations?: Record<string, string>;
}

/** Pushes `layers` with a config blob as an OCI image manifest tagged `tag`; returns the manifest digest. */
export async function pushLayers(
  client: RegistryClient,
  repository: string,
  tag: string,
  layers: TestLayer[],
  config: { mediaType: string; bytes: Buffer } = {
    mediaType: "application/vnd.oci.empty.v1+json",
    bytes: Buffer.from("{}"),
  },
): Promise<string> {
  const cfg = await client.pushBlob(repository, config.bytes);
  const descriptors = [];
  for (const layer of layers) {
    const pushed = await client.pushBlob(repository, layer.bytes);
    descriptors.push({
      mediaType: layer.mediaType,
      digest: pushed.digest,
      size: pushed.size,
      ...(layer.annotations ? { annotations: layer.annotations } : {}),
    });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: config.mediaType, digest: cfg.digest, size: cfg.size },
    layers: descriptors,
  };
  return client.putManifest(repository, tag, {
    bytes: Buffer.from(JSON.stringify(manifest)),
    mediaType: manifest.mediaType,
  });
}

/** One tar entry written byte by byte (ustar): a file (`0`), a symlink (`2`) or a directory (`5`). */
export function tarEntry(name: string, type: "0" | "2" | "5", body = Buffer.alloc(0), linkname = ""): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(type === "5" ? "0000755\0" : "0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.fill(0x20, 148, 156);
  header.write(type, 156, "latin1");
  header.write(linkname, 157, 100, "utf8");
  header.write("ustar\0", 257, "latin1");
  header.write("00", 263, "latin1");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return Buffer.concat([header, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** A gzipped tar of `entries` (tarEntry outputs), with the end-of-archive blocks. */
export function tarGz(entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

/** A file entry with UTF-8 text. */
export function fileEntry(name: string, text: string): Buffer {
  return tarEntry(name, "0", Buffer.from(text, "utf8"));
}

/** Nuon's runner archive layout: config `artifact/nuon`, one tar+gzip layer titled `.` marked for unpacking. */
export function nuonArchive(tarGzBytes: Buffer): {
  layers: TestLayer[];
  config: { mediaType: string; bytes: Buffer };
} {
  return {
    layers: [
      {
        bytes: tarGzBytes,
        mediaType: "application/vnd.nuon.archive.layer.v1.tar+gzip",
        annotations: { "org.opencontainers.image.title": ".", "io.deis.oras.content.unpack": "true" },
      },
    ],
    config: { mediaType: "artifact/nuon", bytes: Buffer.from("{}") },
  };
}
