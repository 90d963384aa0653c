import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/sources/oci/artifact.ts";
import { createRegistryClient, type RegistryClient } from "../../src/sources/oci/client.ts";
import { isOciError } from "../../src/sources/oci/errors.ts";
import { fetchOciSource } from "../../src/sources/oci/fetch.ts";
import { encodeHeader, endOfArchive, paddingFor } from "../../src/sources/oci/tar-format.ts";
import { startRegistry, startTamperingProxy, type TestRegistry } from "../support/registry.ts";

let registry: TestRegistry;
let client: RegistryClient;
let tmp: string;

beforeAll(async () => {
  registry = await startRegistry();
  client = createRegistryClient({ registry: registry.host, scheme: "http" });
});
afterAll(async () => {
  await registry?.stop();
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "oci-fetch-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const config = (repository: string, host = registry.host) => ({
  RegistryType: "public_oci",
  LoginServer: `http://${host}`,
  Repository: repository,
});

/** Pushes layers (bytes + media type + annotations) with an empty config under `tag`. */
async function pushArtifact(
  repository: string,
  tag: string,
  layers: Array<{ bytes: Buffer; mediaType: string; annotations?: Record<string, string> }>,
) {
  const cfg = await client.pushBlob(repository, Buffer.from("{}"));
  const descriptors = [];
  for (const layer of layers) {
    const pushed = await client.pushBlob(repository, layer.bytes);
    descriptors.push({
      mediaType: layer.mediaType,
      ...pushed,
      ...(layer.annotations ? { annotations: layer.annotations } : {}),
    });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.empty.v1+json", ...cfg },
    layers: descriptors,
  };
  return client.putManifest(repository, tag, {
    bytes: Buffer.from(JSON.stringify(manifest)),
    mediaType: manifest.mediaType,
  });
}

describe("fetchOciSource", () => {
  it("writes one-file-per-layer artifacts (as ORAS and the Nuon Go runner push them) under their titles", async () => {
    const digest = await pushArtifact("oras/module", "v1", [
      {
        bytes: Buffer.from("# main\n"),
        mediaType: "application/vnd.nuon.file",
        annotations: { "org.opencontainers.image.title": "main.tf" },
      },
      {
        bytes: Buffer.from("# sub\n"),
        mediaType: "application/vnd.nuon.file",
        annotations: { "org.opencontainers.image.title": "modules/sub/main.tf" },
      },
    ]);
    const dir = path.join(tmp, "out");
    const fetched = await fetchOciSource({ registry: config("oras/module"), tag: "v1", dir });
    expect(fetched.digest).toBe(digest);
    expect(fetched.ref).toBe(`${registry.host}/oras/module@${digest}`);
    expect(fetched.files).toEqual(["main.tf", "modules/sub/main.tf"]);
    expect(await readFile(path.join(dir, "modules/sub/main.tf"), "utf8")).toBe("# sub\n");
  });

  it("extracts tar.gz layers, and follows an index holding a single manifest", async () => {
    const src = path.join(tmp, "src");
    await mkdir(src);
    await writeFile(path.join(src, "main.tf"), "# packed\n");
    const packed = await packDirectory({ dir: src, outFile: path.join(tmp, "layer.tgz") });
    const digest = await pushArtifact("packed/module", "inner", [
      {
        bytes: await readFile(path.join(tmp, "layer.tgz")),
        mediaType: "application/vnd.nuon.terraform.module.v1.tar+gzip",
      },
    ]);
    const inner = await client.getManifest("packed/module", digest);
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: inner.mediaType, digest, size: inner.bytes.length }],
    };
    await client.putManifest("packed/module", "v1", {
      bytes: Buffer.from(JSON.stringify(index)),
      mediaType: index.mediaType,
    });
    const fetched = await fetchOciSource({
      registry: config("packed/module"),
      tag: "v1",
      dir: path.join(tmp, "out"),
    });
    expect(fetched.digest).toBe(digest);
    expect(fetched.files).toEqual(packed.files);
    expect(await readFile(path.join(tmp, "out/main.tf"), "utf8")).toBe("# packed\n");
  });

  it("refuses a layer title that would leave the directory", async () => {
    await pushArtifact("bad/title", "v1", [
      {
        bytes: Buffer.from("x"),
        mediaType: "application/octet-stream",
        annotations: { "org.opencontainers.image.title": "../escape.txt" },
      },
    ]);
    const error = await fetchOciSource({
      registry: config("bad/title"),
      tag: "v1",
      dir: path.join(tmp, "out"),
    }).catch((e: unknown) => e);
    expect(isOciError(error, "INVALID")).toBe(true);
    expect((error as Error).message).toContain("unsafe title");
    await expect(readdir(tmp)).resolves.not.toContain("escape.txt");
  });

  it("refuses an archive layer with unsafe entries and leaves the directory empty", async () => {
    const header = encodeHeader({ path: "ok.txt", type: "file", mode: 0o644, size: 2, mtimeSeconds: 0 });
    const evil = Buffer.from(header);
    evil.write("../evil.txt\u0000\u0000\u0000\u0000\u0000\u0000", 0, "utf8");
    evil.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of evil) sum += byte;
    evil.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
    const good = Buffer.concat([header, Buffer.from("ok"), Buffer.alloc(paddingFor(2))]);
    const tar = Buffer.concat([good, evil, Buffer.from("no"), Buffer.alloc(paddingFor(2)), endOfArchive()]);
    await pushArtifact("bad/archive", "v1", [
      { bytes: gzipSync(tar), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" },
    ]);
    const dir = path.join(tmp, "out");
    await expect(fetchOciSource({ registry: config("bad/archive"), tag: "v1", dir })).rejects.toThrow(
      /climbs out/,
    );
    expect(await readdir(dir)).toEqual([]);
    await expect(readdir(tmp)).resolves.not.toContain("evil.txt");
  });

  it("fails with DIGEST_MISMATCH when a layer is tampered with on the way", async () => {
    await pushArtifact("tampered/module", "v1", [
      {
        bytes: Buffer.from("# main\n"),
        mediaType: "text/plain",
        annotations: { "org.opencontainers.image.title": "main.tf" },
      },
    ]);
    const proxy = await startTamperingProxy(registry.url);
    try {
      const dir = path.join(tmp, "out");
      const error = await fetchOciSource({
        registry: config("tampered/module", proxy.host),
        tag: "v1",
        dir,
      }).catch((e: unknown) => e);
      expect(isOciError(error, "DIGEST_MISMATCH")).toBe(true);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it("fails naming the reference when the tag is missing, and refuses a directory that is not empty", async () => {
    const missing = await fetchOciSource({
      registry: config("nothing/here"),
      tag: "v404",
      dir: path.join(tmp, "a"),
    }).catch((e: unknown) => e);
    expect(isOciError(missing, "NOT_FOUND")).toBe(true);
    expect((missing as Error).message).toContain(`${registry.host}/nothing/here:v404`);
    await pushArtifact("full/dir", "v1", [
      {
        bytes: Buffer.from("x"),
        mediaType: "text/plain",
        annotations: { "org.opencontainers.image.title": "x" },
      },
    ]);
    const full = path.join(tmp, "full");
    await mkdir(full);
    await writeFile(path.join(full, "keep"), "");
    await expect(fetchOciSource({ registry: config("full/dir"), tag: "v1", dir: full })).rejects.toThrow(
      /not empty/,
    );
  });
});
