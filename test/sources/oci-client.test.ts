import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "../../src/sources/oci/client.ts";
import { computeDigest } from "../../src/sources/oci/digest.ts";
import { OciError } from "../../src/sources/oci/errors.ts";
import {
  pushTestImage,
  startRegistry,
  startTamperingProxy,
  TEST_REFRESH_TOKEN,
  TEST_REGISTRY_PASSWORD,
  TEST_REGISTRY_USER,
  type TestRegistry,
} from "../support/registry.ts";
import { rejectionOf } from "../support/rejection.ts";

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, OciError);

describe("OCI registry client against a real registry", () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });
  const client = (chunkSizeBytes?: number) =>
    createRegistryClient({
      registry: registry.host,
      scheme: "http",
      ...(chunkSizeBytes ? { chunkSizeBytes } : {}),
    });

  it("pushes a blob in one request and pulls it back verified", async () => {
    const bytes = randomBytes(3000);
    const pushed = await client().pushBlob("roundtrip/app", bytes);
    expect(pushed).toEqual({ digest: computeDigest(bytes), size: 3000 });
    expect(await client().hasBlob("roundtrip/app", pushed.digest)).toBe(true);
    const pulled = await client().getBlob("roundtrip/app", pushed);
    expect(pulled.equals(bytes)).toBe(true);
  });

  it("uploads a large blob in chunks of the configured size", async () => {
    const bytes = randomBytes(10_000);
    const small = client(4096);
    const pushed = await small.pushBlob("chunked/app", bytes);
    const pulled = await client().getBlob("chunked/app", pushed);
    expect(pulled.equals(bytes)).toBe(true);
  });

  it("pushes a manifest under a tag and reads it back by tag and digest", async () => {
    const image = await pushTestImage(client(), "manifests/app", "v1");
    const byTag = await client().getManifest("manifests/app", "v1");
    expect(byTag.digest).toBe(image.digest);
    expect(byTag.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    const byDigest = await client().getManifest("manifests/app", image.digest);
    expect(byDigest.bytes.equals(byTag.bytes)).toBe(true);
    expect(await client().headManifest("manifests/app", "v1")).toMatchObject({ digest: image.digest });
    expect(await client().headManifest("manifests/app", "nope")).toBeUndefined();
  });

  it("mounts a blob from another repository of the same registry", async () => {
    const pushed = await client().pushBlob("mount/source", randomBytes(512));
    expect(await client().hasBlob("mount/target", pushed.digest)).toBe(false);
    expect(await client().mountBlob("mount/target", pushed.digest, "mount/source")).toBe(true);
    expect(await client().hasBlob("mount/target", pushed.digest)).toBe(true);
  });

  it("reports a declined mount as false so the caller pushes instead", async () => {
    const digest = computeDigest(Buffer.from("never pushed anywhere"));
    expect(await client().mountBlob("mount/target2", digest, "mount/source")).toBe(false);
  });

  it("fails with NOT_FOUND naming the reference when a tag is missing", async () => {
    await pushTestImage(client(), "missing/app", "exists");
    const error = await rejection(client().getManifest("missing/app", "does-not-exist"));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`${registry.host}/missing/app:does-not-exist`);
    expect(error.registryCode).toBe("MANIFEST_UNKNOWN");
  });

  it("refuses a blob whose content does not match its digest", async () => {
    const bytes = randomBytes(2048);
    const pushed = await client().pushBlob("tamper/app", bytes);
    const proxy = await startTamperingProxy(registry.url);
    try {
      const tampered = createRegistryClient({ registry: proxy.host, scheme: "http" });
      const error = await rejection(tampered.getBlob("tamper/app", pushed));
      expect(error.code).toBe("DIGEST_MISMATCH");
      expect(error.message).toContain(pushed.digest);
      expect(proxy.tampered).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
  });

  it("refuses a manifest whose content does not match the digest asked for or announced", async () => {
    const image = await pushTestImage(client(), "tamper/manifest", "v1");
    const proxy = await startTamperingProxy(registry.url, (urlPath) => urlPath.includes("/manifests/"));
    try {
      const tampered = createRegistryClient({ registry: proxy.host, scheme: "http" });
      const byDigest = await rejection(tampered.getManifest("tamper/manifest", image.digest));
      expect(byDigest.code).toBe("DIGEST_MISMATCH");
      expect(byDigest.message).toContain(`tamper/manifest@${image.digest}`);
      // By tag, the registry's Docker-Content-Digest header is what the content must match.
      const byTag = await rejection(tampered.getManifest("tamper/manifest", "v1"));
      expect(byTag.code).toBe("DIGEST_MISMATCH");
    } finally {
      await proxy.stop();
    }
  });

  it("refuses to push a manifest under a digest it does not hash to", async () => {
    const error = await rejection(
      client().putManifest("tamper/manifest", computeDigest(Buffer.from("other")), {
        bytes: Buffer.from("{}"),
        mediaType: "application/vnd.oci.image.manifest.v1+json",
      }),
    );
    expect(error.code).toBe("DIGEST_MISMATCH");
  });
});

describe("OCI registry client authentication", () => {
  let basic: TestRegistry;
  let token: TestRegistry;
  beforeAll(async () => {
    [basic, token] = await Promise.all([
      startRegistry({ auth: "htpasswd" }),
      startRegistry({ auth: "token" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop()]);
  });

  it("answers a Basic challenge with the configured username and password", async () => {
    const c = createRegistryClient({
      registry: basic.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD },
    });
    const image = await pushTestImage(c, "basic/app", "v1");
    expect((await c.getManifest("basic/app", "v1")).digest).toBe(image.digest);
  });

  it("fails with UNAUTHORIZED, naming the registry but not the password, when the password is wrong", async () => {
    const c = createRegistryClient({
      registry: basic.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: "wrong-password-123" },
    });
    const error = await rejection(c.getManifest("basic/app", "v1"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain(basic.host);
    expect(error.message).toContain("rejected the credentials");
    expect(error.message).not.toContain("wrong-password-123");
  });

  it("fails with UNAUTHORIZED when the registry wants credentials and none are configured", async () => {
    const error = await rejection(
      createRegistryClient({ registry: basic.host, scheme: "http" }).getManifest("basic/app", "v1"),
    );
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("no credentials are configured");
  });

  it("gets a bearer token from the realm of the challenge, with the scope the registry asks for", async () => {
    const c = createRegistryClient({
      registry: token.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD },
    });
    const image = await pushTestImage(c, "bearer/app", "v1");
    expect((await c.getManifest("bearer/app", "v1")).digest).toBe(image.digest);
    const requests = token.tokenService?.requests ?? [];
    expect(
      requests.some((r) => r.auth === "basic" && r.scopes.includes("repository:bearer/app:pull,push")),
    ).toBe(true);
    // Tokens are cached per scope: far fewer token requests than registry requests.
    expect(requests.length).toBeLessThanOrEqual(3);
  });

  it("exchanges a refresh token for an access token with a POST, as ACR expects", async () => {
    const c = createRegistryClient({
      registry: token.host,
      scheme: "http",
      credentials: { kind: "refresh-token", refreshToken: TEST_REFRESH_TOKEN },
    });
    const image = await pushTestImage(c, "refresh/app", "v1");
    expect((await c.getManifest("refresh/app", "v1")).digest).toBe(image.digest);
    expect(token.tokenService?.requests.some((r) => r.method === "POST" && r.auth === "refresh-token")).toBe(
      true,
    );
  });

  it("fails with UNAUTHORIZED when the token service rejects the credentials", async () => {
    const c = createRegistryClient({
      registry: token.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: "not-the-password" },
    });
    const error = await rejection(c.getManifest("bearer/app", "v1"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("token service");
    expect(error.message).toContain(`user "${TEST_REGISTRY_USER}"`);
    expect(error.message).not.toContain("not-the-password");
  });
});
