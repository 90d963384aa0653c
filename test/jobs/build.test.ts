import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../../src/control-plane/schemas.ts";
import { kanikoCommand } from "../../src/jobs/build/docker/args.ts";
import { createDockerBuildHandler } from "../../src/jobs/build/docker/handler.ts";
import { parseDigestFile } from "../../src/jobs/build/docker/outputs.ts";
import type { HandlerFactory, RunnerState } from "../../src/jobs/handler.ts";
import { HANDLERS } from "../../src/jobs/registry.ts";
import { runJob } from "../../src/jobs/run-job.ts";
import { createRegistryClient } from "../../src/sources/oci/client.ts";
import { fetchOciSource } from "../../src/sources/oci/fetch.ts";
import { parseManifest } from "../../src/sources/oci/manifest.ts";
import { createFakeClient } from "../agent/support/fake-client.ts";
import { recordingJobLog } from "../agent/support/silent-log.ts";
import { type GitServer, git, publish, startGitServer } from "../support/git-server.ts";
import {
  pushTestIndex,
  startRegistry,
  TEST_REGISTRY_PASSWORD,
  TEST_REGISTRY_USER,
  type TestRegistry,
} from "../support/registry.ts";

const runnerState: RunnerState = {
  processType: "build",
  startedAtMs: 0,
  jobLoops: () => ({}),
  requestExit: () => undefined,
};

let tmp: string;
let registry: TestRegistry;
let gitServer: GitServer;
let commit: string;

/** Runs one job of `type` with `plan` through the real pipeline; returns the outcome, posted outputs and log. */
async function run(type: Job["type"], plan: unknown, factory?: HandlerFactory) {
  const fake = createFakeClient();
  fake.on("getPlanText", () => JSON.stringify(plan));
  const log = recordingJobLog();
  const workspaceDir = await mkdtemp(path.join(tmp, "ws-"));
  const outcome = await runJob({
    job: { id: "job-1", type },
    execution: { id: "exec-1" },
    handlerFactory: factory ?? (HANDLERS as Record<string, HandlerFactory>)[type as string],
    client: fake.client,
    log,
    runnerState,
    killGraceMs: 500,
    workspaceDir,
  });
  const posted = fake.calls.find((call) => call.op === "createOutputs")?.args[2] as
    | Record<string, unknown>
    | undefined;
  return { outcome, outputs: posted ?? {}, log };
}

const dst = (repository: string) => ({
  RegistryType: "private_oci",
  LoginServer: `http://${registry.host}`,
  Repository: repository,
  OCIAuth: { Username: TEST_REGISTRY_USER, Password: TEST_REGISTRY_PASSWORD },
});

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "build-jobs-"));
  registry = await startRegistry({ auth: "htpasswd" });
  const served = path.join(tmp, "served");
  const work = path.join(tmp, "work");
  await mkdir(served);
  await mkdir(path.join(work, "infra/modules/net"), { recursive: true });
  await mkdir(path.join(work, "charts/demo/templates"), { recursive: true });
  await writeFile(path.join(work, "infra/main.tf"), 'resource "terraform_data" "x" {}\n');
  await writeFile(path.join(work, "infra/modules/net/main.tf"), "# net\n");
  await writeFile(
    path.join(work, "charts/demo/Chart.yaml"),
    "apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: A demo chart\n",
  );
  await writeFile(path.join(work, "charts/demo/values.yaml"), "replicas: 1\n");
  await writeFile(path.join(work, "charts/demo/templates/cm.yaml"), "kind: ConfigMap\n");
  await writeFile(path.join(work, "Dockerfile"), "FROM scratch\n");
  await git(work, "init", "--quiet", "--initial-branch=main");
  await git(work, "add", ".");
  await git(work, "commit", "--quiet", "-m", "init");
  commit = await git(work, "rev-parse", "HEAD");
  await publish(work, served, "app");
  gitServer = await startGitServer({ root: served });
});

afterAll(async () => {
  await registry?.stop();
  await gitServer?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("terraform-module-build", () => {
  it("packs the module from git, pushes it, and fetchOciSource brings back the same files", async () => {
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main", path: "infra" },
      dst_registry: dst("modules/app"),
      dst_tag: "v1",
      terraform_build_plan: { Labels: { team: "platform" } },
    };
    const { outcome, outputs } = await run("terraform-module-build", plan);
    expect(outcome.message).toBeUndefined();
    expect(outcome.status).toBe("finished");
    const digest = outputs.digest as string;
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(outputs).toMatchObject({
      tag: "v1",
      image: { tag: "v1", digest, repository: `${registry.host}/modules/app` },
      files: ["main.tf", "modules/net/main.tf"],
    });

    const dir = path.join(tmp, "fetched-module");
    const fetched = await fetchOciSource({ registry: dst("modules/app"), tag: "v1", dir });
    expect(fetched.digest).toBe(digest);
    expect(fetched.configMediaType).toBe("application/vnd.nuon.terraform.module.config.v1+json");
    expect(fetched.files.sort()).toEqual(["main.tf", "modules/net/main.tf"]);
    expect(await readFile(path.join(dir, "main.tf"), "utf8")).toBe('resource "terraform_data" "x" {}\n');
    expect(fetched.annotations).toMatchObject({
      team: "platform",
      "org.opencontainers.image.revision": commit,
    });

    // The same commit builds to the same digest.
    const again = await run("terraform-module-build", { ...plan, dst_tag: "v1-again" });
    expect(again.outputs.digest).toBe(digest);
  });

  it("fails naming the registry when the destination rejects the credentials", async () => {
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main", path: "infra" },
      dst_registry: { ...dst("modules/app"), OCIAuth: { Username: TEST_REGISTRY_USER, Password: "wrong" } },
      dst_tag: "v2",
    };
    const { outcome } = await run("terraform-module-build", plan);
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("execute");
    expect(outcome.message).toContain(registry.host);
    expect(outcome.message).toContain("rejected the credentials");
  });

  it("posts the plan's sandbox outputs without building", async () => {
    const { outcome, outputs } = await run("terraform-module-build", {
      sandbox_mode: { enabled: true, outputs: { image: { tag: "fake" } } },
    });
    expect(outcome.status).toBe("finished");
    expect(outputs).toEqual({ image: { tag: "fake" } });
  });
});

describe("helm-chart-build", () => {
  it("pushes the chart in helm's OCI layout, which fetchOciSource unpacks under the chart's name", async () => {
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main", path: "charts/demo" },
      dst_registry: dst("charts/demo"),
      dst_tag: "0.1.0",
      helm_build_plan: { labels: { owner: "web" } },
    };
    const { outcome, outputs } = await run("helm-chart-build", plan);
    expect(outcome.message).toBeUndefined();
    const c = createRegistryClient({
      registry: registry.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD },
    });
    const manifest = parseManifest(await c.getManifest("charts/demo", "0.1.0"), "chart");
    if (manifest.kind !== "image") throw new Error("expected an image manifest");
    expect(manifest.manifest.config.mediaType).toBe("application/vnd.cncf.helm.config.v1+json");
    expect(manifest.manifest.layers.map((layer) => layer.mediaType)).toEqual([
      "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
    ]);
    const config = JSON.parse(
      (await c.getBlob("charts/demo", manifest.manifest.config)).toString(),
    ) as Record<string, unknown>;
    expect(config).toMatchObject({ name: "demo", version: "0.1.0", apiVersion: "v2" });

    const dir = path.join(tmp, "fetched-chart");
    const fetched = await fetchOciSource({
      registry: dst("charts/demo"),
      digest: outputs.digest as string,
      dir,
    });
    expect(fetched.files.sort()).toEqual(["demo/Chart.yaml", "demo/templates/cm.yaml", "demo/values.yaml"]);
    expect(fetched.annotations.owner).toBe("web");
  });

  it("fails saying what is wrong when the source has no Chart.yaml", async () => {
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main", path: "infra" },
      dst_registry: dst("charts/bad"),
      dst_tag: "1",
    };
    const { outcome } = await run("helm-chart-build", plan);
    expect(outcome.status).toBe("failed");
    expect(outcome.message).toMatch(/no Chart\.yaml/);
  });
});

describe("container-image-build", () => {
  it("copies every platform of an image from its registry into the destination", async () => {
    const source = await startRegistry();
    try {
      const index = await pushTestIndex(
        createRegistryClient({ registry: source.host, scheme: "http" }),
        "upstream/app",
        "1.2.3",
      );
      const plan = {
        container_image_pull_plan: {
          image: "upstream/app",
          tag: "1.2.3",
          repo_config: {
            RegistryType: "public_oci",
            LoginServer: `http://${source.host}`,
            Repository: "upstream/app",
          },
        },
        dst_registry: dst("mirror/app"),
        dst_tag: "build-1",
      };
      const { outcome, outputs, log } = await run("container-image-build", plan);
      expect(outcome.message).toBeUndefined();
      expect(outputs).toMatchObject({
        digest: index.digest,
        tag: "build-1",
        platforms: ["linux/amd64", "linux/arm64"],
      });
      expect(log.messages.filter((m) => m.startsWith("info: blob copied"))).toHaveLength(4);

      // With only `image`, a plain reference works too (the tag inside it is used).
      const byImage = await run("container-image-build", {
        container_image_pull_plan: { image: `http://${source.host}/upstream/app:1.2.3` },
        dst_registry: dst("mirror/app"),
        dst_tag: "build-2",
      });
      expect(byImage.outputs.digest).toBe(index.digest);
      expect(byImage.log.messages.filter((m) => m.startsWith("info: blob already present"))).toHaveLength(4);
    } finally {
      await source.stop();
    }
  });

  it("fails naming the missing source reference", async () => {
    const plan = {
      container_image_pull_plan: {
        image: `http://${registry.host}/nope/app`,
        tag: "9.9.9",
        repo_config: dst("nope/app"),
      },
      dst_registry: dst("mirror/nope"),
      dst_tag: "x",
    };
    const { outcome } = await run("container-image-build", plan);
    expect(outcome.status).toBe("failed");
    expect(outcome.message).toContain(`${registry.host}/nope/app:9.9.9 was not found`);
  });
});

describe("docker-build", () => {
  it("fails at once, saying kaniko is required, when no executor exists", async () => {
    const emptyPath = await mkdtemp(path.join(tmp, "empty-path-"));
    const factory = () =>
      createDockerBuildHandler({
        kanikoImagePath: path.join(emptyPath, "missing"),
        processEnv: { PATH: emptyPath },
      });
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main" },
      dst_registry: dst("images/app"),
      dst_tag: "v1",
    };
    const { outcome } = await run("docker-build", plan, factory);
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("fetch");
    expect(outcome.message).toMatch(/needs the kaniko executor/);
  });

  it("runs the executor found on PATH with credentials, build arguments from the environment, and reads its digest file", async () => {
    const bin = await mkdtemp(path.join(tmp, "bin-"));
    const executor = path.join(bin, "executor");
    await writeFile(
      executor,
      [
        "#!/bin/sh",
        'out="$(dirname "$0")"',
        `printf '%s\\n' "$@" > "$out/args.txt"`,
        `printf '%s' "$VERSION" > "$out/build-arg.txt"`,
        'cp "$DOCKER_CONFIG/config.json" "$out/docker-config.json"',
        'while [ $# -gt 0 ]; do if [ "$1" = "--digest-file" ]; then printf \'sha256:%064d\\n\' 0 > "$2"; fi; shift; done',
        "echo pushed",
        "",
      ].join("\n"),
    );
    await chmod(executor, 0o755);
    const factory = () =>
      createDockerBuildHandler({
        kanikoImagePath: path.join(bin, "missing"),
        processEnv: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` },
      });
    const plan = {
      git_source: { url: gitServer.repoUrl("app"), ref: "main" },
      dst_registry: dst("images/app"),
      dst_tag: "v1",
      docker_build_plan: {
        dockerfile: "Dockerfile",
        context: ".",
        target: "final",
        build_args: { VERSION: "1.2.3", UNSET: null },
      },
    };
    const { outcome, outputs, log } = await run("docker-build", plan, factory);
    expect(outcome.message).toBeUndefined();
    expect(outputs).toMatchObject({ digest: `sha256:${"0".repeat(64)}`, tag: "v1" });
    const args = (await readFile(path.join(bin, "args.txt"), "utf8")).trim().split("\n");
    expect(args).toContain(`${registry.host}/images/app:v1`);
    expect(args.slice(args.indexOf("--build-arg"), args.indexOf("--build-arg") + 2)).toEqual([
      "--build-arg",
      "VERSION",
    ]);
    expect(args).not.toContain("UNSET");
    expect(args).toContain("--insecure");
    expect(await readFile(path.join(bin, "build-arg.txt"), "utf8")).toBe("1.2.3");
    const config = JSON.parse(await readFile(path.join(bin, "docker-config.json"), "utf8")) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(config.auths[registry.host]?.auth ?? "", "base64").toString()).toBe(
      `${TEST_REGISTRY_USER}:${TEST_REGISTRY_PASSWORD}`,
    );
    expect(log.messages).toContain("stdout: pushed");
  });

  it.each([
    [
      "the minimum",
      {
        contextDir: "/w/src",
        dockerfile: "/w/src/Dockerfile",
        destination: "r.io/app:v1",
        digestFile: "/w/d",
      },
      [
        "--context",
        "dir:///w/src",
        "--dockerfile",
        "/w/src/Dockerfile",
        "--destination",
        "r.io/app:v1",
        "--digest-file",
        "/w/d",
      ],
      {},
    ],
    [
      "a target, sorted build arguments by name and a plain-HTTP registry",
      {
        contextDir: "/c",
        dockerfile: "/c/docker/Dockerfile.prod",
        destination: "127.0.0.1:5000/a:b",
        digestFile: "/d",
        target: "runtime",
        buildArgs: { ZED: "z", ALPHA: "a b", SKIPPED: null },
        insecureRegistry: true,
      },
      [
        "--context",
        "dir:///c",
        "--dockerfile",
        "/c/docker/Dockerfile.prod",
        "--destination",
        "127.0.0.1:5000/a:b",
        "--digest-file",
        "/d",
        "--target",
        "runtime",
        "--build-arg",
        "ALPHA",
        "--build-arg",
        "ZED",
        "--insecure",
      ],
      { ALPHA: "a b", ZED: "z" },
    ],
  ])("builds kaniko's argv for %s", (_what, input, args, env) => {
    expect(kanikoCommand(input)).toEqual({ args, env });
  });

  it("refuses build argument names kaniko could not read from the environment", () => {
    expect(() =>
      kanikoCommand({
        contextDir: "/c",
        dockerfile: "/c/D",
        destination: "r/a:b",
        digestFile: "/d",
        buildArgs: { "A=B": "x" },
      }),
    ).toThrow(/build argument name/);
  });

  it.each([
    [`sha256:${"a".repeat(64)}\n`, `sha256:${"a".repeat(64)}`],
    ["", /without writing the image digest/],
    ["garbage", /not a digest/],
  ])("reads the digest file %j", (text, expected) => {
    if (typeof expected === "string") expect(parseDigestFile(text)).toBe(expected);
    else expect(() => parseDigestFile(text)).toThrow(expected);
  });
});
