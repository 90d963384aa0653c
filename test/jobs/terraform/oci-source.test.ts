/**
 * terraform-deploy with the module as an OCI artifact (`src_registry` + `src_tag`): pushed by the real
 * terraform-module-build handler (or in Nuon's runner archive layout) to a REAL registry (docker-registry on
 * loopback, with htpasswd auth), fetched with its digests verified, and applied by the REAL terraform with
 * local state, through the real pipeline and the embedded control plane.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTerraformModuleBuildHandler } from "../../../src/jobs/build/terraform-module/handler.ts";
import { createTerraformHandler } from "../../../src/jobs/terraform/handler.ts";
import { createRegistryClient, type RegistryClient } from "../../../src/sources/oci/client.ts";
import { type JobHarness, startJobHarness } from "../../support/job-harness.ts";
import { fileEntry, nuonArchive, pushLayers, tarEntry, tarGz } from "../../support/oci-artifacts.ts";
import {
  startRegistry,
  startTamperingProxy,
  TEST_REGISTRY_PASSWORD,
  TEST_REGISTRY_USER,
  type TestRegistry,
} from "../../support/registry.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/terraform");

let harness: JobHarness;
let registry: TestRegistry;
let client: RegistryClient;
let root: string;
let cliConfigFile: string;

beforeAll(async () => {
  harness = await startJobHarness();
  registry = await startRegistry({ auth: "htpasswd" });
  client = createRegistryClient({
    registry: registry.host,
    scheme: "http",
    credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD },
  });
  root = await mkdtemp(path.join(tmpdir(), "terraform-oci-test-"));
  cliConfigFile = path.join(root, "cli.tfrc");
  await writeFile(cliConfigFile, "");
});

afterAll(async () => {
  await harness?.close();
  await registry?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const registryConfig = (repository: string, host = registry.host) => ({
  RegistryType: "private_oci",
  LoginServer: `http://${host}`,
  Repository: repository,
  OCIAuth: { Username: TEST_REGISTRY_USER, Password: TEST_REGISTRY_PASSWORD },
});

function deploy(operation: string, plan: unknown) {
  return harness.run({
    type: "terraform-deploy",
    operation,
    plan,
    workspaceRoot: root,
    factory: () =>
      createTerraformHandler({
        variant: "deploy",
        processEnv: { ...process.env, TF_CLI_CONFIG_FILE: cliConfigFile },
      }),
  });
}

describe("terraform-deploy from an OCI module", () => {
  it("applies the module terraform-module-build pushed, by tag and by digest, and logs the digest it fetched", async () => {
    const built = await harness.run({
      type: "terraform-module-build",
      plan: { dst_registry: registryConfig("modules/basic"), dst_tag: "v1" },
      workspaceRoot: root,
      factory: () => createTerraformModuleBuildHandler({ localDir: path.join(FIXTURES, "basic") }),
    });
    expect(built.outcome.message).toBeUndefined();
    const digest = built.outputs?.digest as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const byTag = await deploy("exec", {
      src_registry: registryConfig("modules/basic"),
      src_tag: "v1",
      terraform: { vars: { greeting: "from-oci" } },
    });
    expect(byTag.outcome.message).toBeUndefined();
    expect(byTag.outcome.status).toBe("finished");
    expect(byTag.outputs).toMatchObject({ greeting: "from-oci-none" });
    const fetched = byTag.entries.find((e) => e.msg === "fetched the terraform module");
    expect(fetched?.fields).toMatchObject({ ref: `${registry.host}/modules/basic:v1`, digest });
    expect(byTag.text()).toContain("created terraform_data.greeting");
    expect(byTag.text()).not.toContain(TEST_REGISTRY_PASSWORD);

    // A digest in src_tag pins the artifact.
    const byDigest = await deploy("create-apply-plan", {
      src_registry: registryConfig("modules/basic"),
      src_tag: digest,
      terraform: {},
    });
    expect(byDigest.outcome.status).toBe("finished");
    expect(byDigest.entries.find((e) => e.msg === "fetched the terraform module")?.fields).toMatchObject({
      ref: `${registry.host}/modules/basic@${digest}`,
      digest,
    });
    expect(byDigest.text()).toContain("will create terraform_data.greeting");
  });

  it("applies a module in Nuon's runner archive layout (one layer titled `.`, unpacked)", async () => {
    const archive = nuonArchive(
      tarGz([
        tarEntry("modules", "5"),
        fileEntry("main.tf", 'module "child" {\n  source = "./modules/child"\n}\n'),
        tarEntry("modules/child", "5"),
        fileEntry("modules/child/main.tf", 'output "answer" {\n  value = 42\n}\n'),
      ]),
    );
    await pushLayers(client, "nuon/archive", "build-1", archive.layers, archive.config);
    const ran = await deploy("exec", {
      src_registry: registryConfig("nuon/archive"),
      src_tag: "build-1",
      terraform: {},
    });
    expect(ran.outcome.message).toBeUndefined();
    expect(ran.outcome.status).toBe("finished");
    expect(ran.entries.find((e) => e.msg === "fetched the terraform module")?.fields).toMatchObject({
      files: 2,
    });
  });

  it("fails at fetch naming the reference when the tag does not exist", async () => {
    const ran = await deploy("exec", {
      src_registry: registryConfig("modules/basic"),
      src_tag: "no-such-tag",
      terraform: {},
    });
    expect(ran.outcome).toMatchObject({ status: "failed", step: "fetch" });
    expect(ran.outcome.message).toMatch(
      new RegExp(
        `^cannot fetch the terraform module from ${registry.host}/modules/basic:no-such-tag: .*not found`,
      ),
    );
  });

  it("fails naming the reference when a layer is tampered with on the way", async () => {
    const proxy = await startTamperingProxy(registry.url);
    try {
      const ran = await deploy("exec", {
        src_registry: registryConfig("modules/basic", proxy.host),
        src_tag: "v1",
        terraform: {},
      });
      expect(proxy.tampered.length).toBeGreaterThan(0);
      expect(ran.outcome).toMatchObject({ status: "failed", step: "fetch" });
      expect(ran.outcome.message).toContain(
        `cannot fetch the terraform module from ${proxy.host}/modules/basic:v1`,
      );
      expect(ran.outcome.message).toMatch(/failed verification: its content hashes to sha256:/);
      expect(ran.text()).not.toContain("created terraform_data");
    } finally {
      await proxy.stop();
    }
  });

  it.each([
    [
      "a path climbing out with ..",
      [fileEntry("../escaped.tf", "# out\n")],
      /refusing archive entry "\.\.\/escaped\.tf": it climbs out/,
    ],
    [
      "a symlink leading out of the module",
      [tarEntry("main.tf", "2", Buffer.alloc(0), "/etc/passwd")],
      /refusing symlink "main\.tf" -> "\/etc\/passwd"/,
    ],
  ])("refuses an artifact with %s and applies nothing", async (_name, entries, message) => {
    const tag = `unsafe-${Math.random().toString(36).slice(2, 8)}`;
    await pushLayers(client, "modules/unsafe", tag, [
      { bytes: tarGz(entries), mediaType: "application/vnd.nuon.terraform.module.v1.tar+gzip" },
    ]);
    const ran = await deploy("exec", {
      src_registry: registryConfig("modules/unsafe"),
      src_tag: tag,
      terraform: {},
    });
    expect(ran.outcome).toMatchObject({ status: "failed", step: "fetch" });
    expect(ran.outcome.message).toContain(`${registry.host}/modules/unsafe:${tag}`);
    expect(ran.outcome.message).toMatch(message);
    expect(ran.text()).not.toContain("initializing terraform");
  });

  it("fails naming the field when src_registry has no repository", async () => {
    const ran = await deploy("exec", { src_registry: { RegistryType: "ecr" }, src_tag: "v1", terraform: {} });
    expect(ran.outcome).toMatchObject({ status: "failed", step: "fetch" });
    expect(ran.outcome.message).toMatch(/src_registry cannot be used: .*no Repository/);
  });
});
