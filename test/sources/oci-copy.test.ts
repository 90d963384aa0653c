import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient, type RegistryClient } from "../../src/sources/oci/client.ts";
import { copyImage } from "../../src/sources/oci/copy.ts";
import { isOciError } from "../../src/sources/oci/errors.ts";
import { pushTestImage, pushTestIndex, startRegistry, type TestRegistry } from "../support/registry.ts";

describe("copying images between repositories", () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let clientA: RegistryClient;
  let clientB: RegistryClient;
  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    clientA = createRegistryClient({ registry: a.host, scheme: "http" });
    clientB = createRegistryClient({ registry: b.host, scheme: "http", chunkSizeBytes: 4096 });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("copies every platform of a multi-arch index to another registry, byte for byte", async () => {
    const index = await pushTestIndex(clientA, "multi/src", "v1");
    const result = await copyImage({
      from: { client: clientA, repository: "multi/src" },
      reference: "v1",
      to: { client: clientB, repository: "multi/dst" },
      tag: "copied",
    });
    expect(result.digest).toBe(index.digest);
    expect(result.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    expect(result.blobs).toEqual({ copied: 4, mounted: 0, existing: 0 });
    const copied = await clientB.getManifest("multi/dst", "copied");
    expect(copied.digest).toBe(index.digest);
    for (const child of index.children) {
      expect((await clientB.getManifest("multi/dst", child.digest)).digest).toBe(child.digest);
      for (const blob of child.blobs) expect(await clientB.hasBlob("multi/dst", blob)).toBe(true);
    }
  });

  it("mounts blobs instead of copying them within one registry, and skips what is already there", async () => {
    const index = await pushTestIndex(clientA, "mount/src", "v1");
    const first = await copyImage({
      from: { client: clientA, repository: "mount/src" },
      reference: "v1",
      to: { client: clientA, repository: "mount/dst" },
      tag: "v1",
    });
    expect(first.digest).toBe(index.digest);
    expect(first.blobs).toEqual({ copied: 0, mounted: 4, existing: 0 });
    const again = await copyImage({
      from: { client: clientA, repository: "mount/src" },
      reference: "v1",
      to: { client: clientA, repository: "mount/dst" },
      tag: "v2",
    });
    expect(again.blobs).toEqual({ copied: 0, mounted: 0, existing: 4 });
    expect((await clientA.getManifest("mount/dst", "v2")).digest).toBe(index.digest);
  });

  it("streams a layer larger than the chunk size in chunks", async () => {
    const content = randomBytes(20_000).toString("base64");
    const image = await pushTestImage(clientA, "big/src", "v1", { content });
    const events: string[] = [];
    const result = await copyImage({
      from: { client: clientA, repository: "big/src" },
      reference: image.digest,
      to: { client: clientB, repository: "big/dst" },
      tag: "v1",
      onProgress: (event) => events.push(`${event.kind}:${event.action}`),
    });
    expect(result.digest).toBe(image.digest);
    expect(result.platforms).toEqual([]);
    const layer = image.blobs[1] as string;
    expect((await clientB.getBlob("big/dst", { digest: layer })).toString()).toBe(content);
    expect(events).toEqual(["blob:copied", "blob:copied", "manifest:copied"]);
  });

  it("fails naming the source reference when it does not exist", async () => {
    const error = await copyImage({
      from: { client: clientA, repository: "nothing/here" },
      reference: "v9",
      to: { client: clientB, repository: "x/y" },
      tag: "v9",
    }).catch((e: unknown) => e);
    expect(isOciError(error, "NOT_FOUND")).toBe(true);
    expect((error as Error).message).toContain(`${a.host}/nothing/here:v9`);
  });
});
