import { describe, expect, it } from "vitest";
import { parseAuthChallenges } from "../../src/sources/oci/challenge.ts";
import { isOciError } from "../../src/sources/oci/errors.ts";
import { isIndexMediaType, isTarGzipMediaType } from "../../src/sources/oci/media-types.ts";
import { formatReference, parseReference, registryApiHost } from "../../src/sources/oci/reference.ts";
import {
  credentialsFor,
  OciRegistryRepository,
  repositoryLocation,
} from "../../src/sources/oci/registry-config.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("image references", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx", scheme: "https" }],
    ["nginx:1.27", { registry: "docker.io", repository: "library/nginx", tag: "1.27" }],
    ["bitnami/redis:7", { registry: "docker.io", repository: "bitnami/redis", tag: "7" }],
    ["index.docker.io/library/alpine", { registry: "docker.io", repository: "library/alpine" }],
    ["ghcr.io/org/app:v1", { registry: "ghcr.io", repository: "org/app", tag: "v1" }],
    ["localhost:5000/app", { registry: "localhost:5000", repository: "app" }],
    ["localhost/app", { registry: "localhost", repository: "app" }],
    ["127.0.0.1:5000/a/b/c:t", { registry: "127.0.0.1:5000", repository: "a/b/c", tag: "t" }],
    [`r.io/app@${DIGEST}`, { registry: "r.io", repository: "app", digest: DIGEST }],
    [`r.io/app:v2@${DIGEST}`, { registry: "r.io", repository: "app", tag: "v2", digest: DIGEST }],
    [
      "http://127.0.0.1:5000/app:v1",
      { registry: "127.0.0.1:5000", repository: "app", tag: "v1", scheme: "http" },
    ],
    [
      "123.dkr.ecr.us-east-1.amazonaws.com/team/svc",
      { registry: "123.dkr.ecr.us-east-1.amazonaws.com", repository: "team/svc" },
    ],
  ])("parses %s", (input, expected) => {
    expect(parseReference(input)).toMatchObject(expected);
  });

  it.each([
    ["", /no repository/],
    ["r.io/App", /lowercase/],
    ["r.io/app:bad tag", /not a valid tag/],
    ["r.io/app@sha256:123", /not a sha256 or sha512 digest/],
    ["r.io/", /no repository/],
  ])("refuses %j", (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (error) {
      caught = error;
    }
    expect(isOciError(caught, "INVALID")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it("prints references back and maps Docker Hub to its API host", () => {
    expect(formatReference(parseReference(`r.io/app:v2@${DIGEST}`))).toBe(`r.io/app:v2@${DIGEST}`);
    expect(formatReference(parseReference("http://127.0.0.1:1/x"))).toBe("http://127.0.0.1:1/x");
    expect(registryApiHost("docker.io")).toBe("registry-1.docker.io");
    expect(registryApiHost("ghcr.io")).toBe("ghcr.io");
  });
});

describe("registry configs from plans", () => {
  it("reads Go field names case-insensitively and joins the login server and repository", () => {
    const config = OciRegistryRepository.parse({
      RegistryType: "acr",
      LoginServer: "example.azurecr.io",
      Repository: "apps/web",
      OCIAuth: { Username: "u", Password: "p" },
    });
    expect(repositoryLocation(config)).toMatchObject({
      registry: "example.azurecr.io",
      repository: "apps/web",
      scheme: "https",
    });
    expect(credentialsFor(config)).toEqual({ kind: "basic", username: "u", password: "p" });
    const lower = OciRegistryRepository.parse({
      registryType: "private_oci",
      repository: "r.io/app",
      ociAuth: { username: "a", password: "b" },
    });
    expect(credentialsFor(lower)).toEqual({ kind: "basic", username: "a", password: "b" });
  });

  it.each([
    [
      {
        Repository: "123.dkr.ecr.us-east-1.amazonaws.com/svc",
        LoginServer: "123.dkr.ecr.us-east-1.amazonaws.com",
      },
      "123.dkr.ecr.us-east-1.amazonaws.com",
      "svc",
      "https",
    ],
    [{ Repository: "svc", LoginServer: "https://r.io" }, "r.io", "svc", "https"],
    [{ Repository: "team/svc", LoginServer: "http://127.0.0.1:5000" }, "127.0.0.1:5000", "team/svc", "http"],
    [{ Repository: "nginx" }, "docker.io", "library/nginx", "https"],
  ])("locates %j", (raw, registry, repository, scheme) => {
    expect(repositoryLocation(OciRegistryRepository.parse(raw))).toMatchObject({
      registry,
      repository,
      scheme,
    });
  });

  it("treats ACR's all-zero username as a refresh token", () => {
    const config = OciRegistryRepository.parse({
      RegistryType: "acr",
      LoginServer: "x.azurecr.io",
      Repository: "a",
      OCIAuth: { Username: "00000000-0000-0000-0000-000000000000", Password: "refresh" },
    });
    expect(credentialsFor(config)).toEqual({ kind: "refresh-token", refreshToken: "refresh" });
  });

  it.each([
    [
      {
        RegistryType: "ecr",
        Repository: "1.dkr.ecr.us-east-1.amazonaws.com/a",
        ECRAuth: { region: "us-east-1" },
      },
      /ECR GetAuthorizationToken/,
    ],
    [
      { RegistryType: "acr", Repository: "a", LoginServer: "x.azurecr.io", ACRAuth: { use_default: true } },
      /ACRAuth/,
    ],
  ])("says clearly which cloud credential exchanges are not supported yet: %j", (raw, message) => {
    let caught: unknown;
    try {
      credentialsFor(OciRegistryRepository.parse(raw));
    } catch (error) {
      caught = error;
    }
    expect(isOciError(caught, "UNSUPPORTED")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it("uses anonymous access for public registries without credentials, and refuses a config without a repository", () => {
    expect(
      credentialsFor(OciRegistryRepository.parse({ RegistryType: "public_oci", Repository: "nginx" })),
    ).toEqual({ kind: "anonymous" });
    expect(() => repositoryLocation(OciRegistryRepository.parse({ LoginServer: "r.io" }))).toThrow(
      /no Repository/,
    );
  });
});

describe("WWW-Authenticate parsing", () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:samalba/my-app:pull,push",
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
    [
      'Basic realm="a", Bearer realm="b",service=s',
      [
        { scheme: "basic", params: { realm: "a" } },
        { scheme: "bearer", params: { realm: "b", service: "s" } },
      ],
    ],
    [
      'Bearer realm="with \\"quote\\"", error="invalid_token"',
      [{ scheme: "bearer", params: { realm: 'with "quote"', error: "invalid_token" } }],
    ],
    ["", []],
  ])("parses %j", (header, expected) => {
    expect(parseAuthChallenges(header)).toEqual(expected);
  });
});

describe("media types", () => {
  it.each([
    ["application/vnd.oci.image.layer.v1.tar+gzip", true],
    ["application/vnd.docker.image.rootfs.diff.tar.gzip", true],
    ["application/vnd.cncf.helm.chart.content.v1.tar+gzip", true],
    ["application/vnd.nuon.terraform.module.v1.tar+gzip", true],
    ["application/tar+gzip", true],
    ["application/vnd.oci.image.layer.v1.tar", false],
    ["application/json", false],
  ])("%s is a tar.gz layer: %s", (mediaType, expected) => {
    expect(isTarGzipMediaType(mediaType)).toBe(expected);
  });

  it("tells indexes from manifests", () => {
    expect(isIndexMediaType("application/vnd.oci.image.index.v1+json")).toBe(true);
    expect(isIndexMediaType("application/vnd.docker.distribution.manifest.list.v2+json")).toBe(true);
    expect(isIndexMediaType("application/vnd.oci.image.manifest.v1+json")).toBe(false);
  });
});
