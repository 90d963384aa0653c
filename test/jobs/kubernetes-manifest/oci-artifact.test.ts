/**
 * kubernetes-manifest-deploy with the manifest in an OCI artifact (2026 `oci_artifact {url, tag, digest}`):
 * artifacts pushed to a REAL registry on loopback (docker-registry) in each accepted layout, pulled at
 * initialize with their digests verified, and applied to the fake API server over loopback HTTPS through
 * the real pipeline.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubernetesManifestHandler } from "../../../src/jobs/kubernetes-manifest/handler.ts";
import { joinManifests, manifestFiles } from "../../../src/jobs/kubernetes-manifest/manifest-source.ts";
import { parseKubernetesManifestPlan } from "../../../src/jobs/kubernetes-manifest/plan.ts";
import { createRegistryClient, type RegistryClient } from "../../../src/sources/oci/client.ts";
import { type FakeApiServer, startFakeApiServer } from "../../support/fake-apiserver.ts";
import { type JobHarness, startJobHarness } from "../../support/job-harness.ts";
import { fileEntry, nuonArchive, pushLayers, tarEntry, tarGz } from "../../support/oci-artifacts.ts";
import { startRegistry, type TestRegistry } from "../../support/registry.ts";

let harness: JobHarness;
let registry: TestRegistry;
let client: RegistryClient;
let api: FakeApiServer;
let root: string;

beforeAll(async () => {
  harness = await startJobHarness();
  registry = await startRegistry();
  client = createRegistryClient({ registry: registry.host, scheme: "http" });
  root = await mkdtemp(path.join(tmpdir(), "manifest-oci-test-"));
});
afterAll(async () => {
  await harness?.close();
  await registry?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  api = await startFakeApiServer();
});
afterEach(async () => {
  await api.close();
});

const configMap = (name: string, color: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  color: ${color}\n`;

const registryConfig = (repository: string) => ({
  RegistryType: "private_oci",
  LoginServer: `http://${registry.host}`,
  Repository: repository,
});

function plan(source: Record<string, unknown>, artifact: Record<string, unknown> | undefined) {
  return {
    install_id: "inst-1",
    component_id: "comp-1",
    ...source,
    kubernetes_manifest: {
      cluster_info: { endpoint: api.url, ca_data: api.caData, token: api.token },
      namespace: "team",
      ...(artifact === undefined ? {} : { oci_artifact: artifact }),
    },
  };
}

function deploy(p: unknown, workspace = true) {
  return harness.run({
    type: "kubernetes-manifest-deploy",
    operation: "apply-plan",
    plan: p,
    ...(workspace ? { workspaceRoot: root } : {}),
    factory: () => createKubernetesManifestHandler({ access: { env: {} } }),
  });
}

describe("kubernetes-manifest-deploy from an OCI artifact", () => {
  it("pulls manifest.yaml from Nuon's archive layout at src_registry/src_tag and applies it, recording the digest", async () => {
    const archive = nuonArchive(tarGz([fileEntry("manifest.yaml", configMap("settings", "blue"))]));
    const digest = await pushLayers(client, "manifests/app", "build-1", archive.layers, archive.config);
    const ran = await deploy(
      plan(
        { src_registry: registryConfig("manifests/app"), src_tag: "build-1" },
        { url: `${registry.host}/manifests/app`, tag: "build-1", digest },
      ),
    );
    expect(ran.outcome.message).toBeUndefined();
    expect(ran.outcome.status).toBe("finished");
    expect(api.get("v1", "ConfigMap", "team", "settings")?.data).toEqual({ color: "blue" });
    expect(ran.outputs).toMatchObject({
      manifest_artifact: { ref: `${registry.host}/manifests/app@${digest}`, digest },
      objects: [
        { kind: "Namespace", name: "team", action: "created" },
        { kind: "ConfigMap", namespace: "team", name: "settings", action: "created" },
      ],
    });
    // The digest pins what is fetched.
    expect(ran.entries.find((e) => e.msg === "fetched the kubernetes manifest")?.fields).toMatchObject({
      ref: `${registry.host}/manifests/app@${digest}`,
      digest,
    });
  });

  it("with only oci_artifact, pulls ORAS-style titled YAML layers (no workspace: a private temporary directory)", async () => {
    await pushLayers(client, "manifests/files", "v2", [
      {
        bytes: Buffer.from(configMap("second", "green")),
        mediaType: "application/yaml",
        annotations: { "org.opencontainers.image.title": "b.yaml" },
      },
      {
        bytes: Buffer.from(configMap("first", "red")),
        mediaType: "application/yaml",
        annotations: { "org.opencontainers.image.title": "a.yml" },
      },
    ]);
    const ran = await deploy(plan({}, { url: `http://${registry.host}/manifests/files`, tag: "v2" }), false);
    expect(ran.outcome.message).toBeUndefined();
    expect(api.get("v1", "ConfigMap", "team", "first")?.data).toEqual({ color: "red" });
    expect(api.get("v1", "ConfigMap", "team", "second")?.data).toEqual({ color: "green" });
    expect(ran.entries.find((e) => e.msg === "read the manifest from the artifact")?.fields).toMatchObject({
      files: ["a.yml", "b.yaml"],
      objects: 2,
    });
  });

  it("pulls every YAML file of a tar.gz layer, in path order, leaving other files out", async () => {
    await pushLayers(client, "manifests/tarball", "v1", [
      {
        bytes: tarGz([
          tarEntry("manifests", "5"),
          fileEntry("manifests/20-cm.yaml", configMap("cm-b", "b")),
          fileEntry("manifests/10-cm.yaml", `---\n${configMap("cm-a", "a")}---\n`),
          fileEntry("README.md", "not a manifest"),
        ]),
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      },
    ]);
    const ran = await deploy(
      plan({ src_registry: registryConfig("manifests/tarball"), src_tag: "v1" }, undefined),
    );
    expect(ran.outcome.message).toBeUndefined();
    expect(api.get("v1", "ConfigMap", "team", "cm-a")).toBeDefined();
    expect(api.get("v1", "ConfigMap", "team", "cm-b")).toBeDefined();
  });

  it("fails at initialize naming the reference when the pinned digest is not in the repository", async () => {
    const wrong = `sha256:${"0".repeat(64)}`;
    const ran = await deploy(
      plan(
        { src_registry: registryConfig("manifests/app"), src_tag: "build-1" },
        { url: `${registry.host}/manifests/app`, digest: wrong },
      ),
    );
    expect(ran.outcome).toMatchObject({ status: "failed", step: "initialize" });
    expect(ran.outcome.message).toContain(
      `cannot fetch the kubernetes manifest from ${registry.host}/manifests/app@${wrong}`,
    );
    expect(api.get("v1", "Namespace", undefined, "team")).toBeUndefined();
  });

  it.each([
    [
      "a manifest.yaml linking out of the artifact",
      [tarEntry("manifest.yaml", "2", Buffer.alloc(0), "/etc/passwd")],
      /refusing symlink "manifest\.yaml" -> "\/etc\/passwd"/,
    ],
    [
      "a path climbing out with ..",
      [fileEntry("../../manifest.yaml", configMap("evil", "x"))],
      /refusing archive entry "\.\.\/\.\.\/manifest\.yaml": it climbs out/,
    ],
    [
      "a kustomization without its rendered manifest",
      [fileEntry("kustomization.yaml", "resources: [cm.yaml]\n"), fileEntry("cm.yaml", configMap("k", "x"))],
      /is a kustomization .* the build must push the rendered manifest/,
    ],
    ["no YAML at all", [fileEntry("notes.txt", "hello")], /holds no YAML manifest .*it holds: notes\.txt/],
  ])("refuses an artifact with %s and applies nothing", async (_name, entries, message) => {
    const tag = `bad-${Math.random().toString(36).slice(2, 8)}`;
    await pushLayers(client, "manifests/bad", tag, [
      { bytes: tarGz(entries), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" },
    ]);
    const ran = await deploy(
      plan({ src_registry: registryConfig("manifests/bad"), src_tag: tag }, undefined),
    );
    expect(ran.outcome).toMatchObject({ status: "failed", step: "initialize" });
    expect(ran.outcome.message).toMatch(message);
    expect(ran.outcome.message).toContain(`${registry.host}/manifests/bad`);
    expect(api.requests.filter((r) => r.method === "PATCH")).toEqual([]);
  });
});

describe("the manifest's source in the plan", () => {
  const base = { kubernetes_manifest: { namespace: "x" } };

  it.each([
    [
      "src_registry and src_tag, pinned by oci_artifact.digest",
      {
        src_registry: { Repository: "r" },
        src_tag: "t1",
        kubernetes_manifest: {
          oci_artifact: { url: "ignored/when-registry", tag: "t2", digest: `sha256:${"a".repeat(64)}` },
        },
      },
      { registry: { Repository: "r" }, tag: "t1", digest: `sha256:${"a".repeat(64)}` },
    ],
    [
      "oci_artifact alone (oci:// stripped)",
      { kubernetes_manifest: { oci_artifact: { url: "oci://reg.example/org/app", tag: "b1" } } },
      { registry: { Repository: "reg.example/org/app" }, tag: "b1" },
    ],
    [
      "src_registry alone, as Nuon's runner reads it",
      { src_registry: { Repository: "r" }, src_tag: "t" },
      { registry: { Repository: "r" }, tag: "t" },
    ],
  ])("%s", (_name, raw, expected) => {
    const parsed = parseKubernetesManifestPlan({
      ...raw,
      kubernetes_manifest: {
        ...base.kubernetes_manifest,
        ...(raw as { kubernetes_manifest?: object }).kubernetes_manifest,
      },
    });
    expect(parsed.manifest).toBe("");
    expect(parsed.source).toEqual(expected);
  });

  it("uses an inline manifest when there is one, and names the fields when there is neither", () => {
    const inline = parseKubernetesManifestPlan({
      src_registry: { Repository: "r" },
      kubernetes_manifest: { manifest: configMap("a", "b"), oci_artifact: { url: "r", tag: "t" } },
    });
    expect(inline.source).toBeUndefined();
    expect(() => parseKubernetesManifestPlan(base)).toThrow(
      /kubernetes_manifest\.manifest is empty and the plan names no artifact .*oci_artifact or src_registry/,
    );
  });

  it("chooses manifest.yaml, else every YAML file in bytewise path order, and joins them as documents", () => {
    expect(manifestFiles(["a.yaml", "manifest.yaml"], "x")).toEqual(["manifest.yaml"]);
    expect(manifestFiles(["b.yaml", "B.yml", "a/c.YAML", "x.json"], "x")).toEqual([
      "B.yml",
      "a/c.YAML",
      "b.yaml",
    ]);
    expect(joinManifests(["a: 1\n\n", "", "---\nb: 2\n"])).toBe("a: 1\n---\n---\nb: 2\n");
  });
});
