import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunnerState } from "../../src/jobs/handler.ts";
import { HANDLERS } from "../../src/jobs/registry.ts";
import { runJob } from "../../src/jobs/run-job.ts";
import { createRegistryClient, type RegistryClient } from "../../src/sources/oci/client.ts";
import { createFakeClient } from "../agent/support/fake-client.ts";
import { recordingJobLog } from "../agent/support/silent-log.ts";
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

let src: TestRegistry;
let dst: TestRegistry;
let srcClient: RegistryClient;

async function sync(plan: unknown) {
  const fake = createFakeClient();
  fake.on("getPlanText", () => JSON.stringify(plan));
  const log = recordingJobLog();
  const outcome = await runJob({
    job: { id: "job-s", type: "oci-sync" },
    execution: { id: "exec-s" },
    handlerFactory: HANDLERS["oci-sync"],
    client: fake.client,
    log,
    runnerState,
    killGraceMs: 500,
  });
  const outputs = (fake.calls.find((call) => call.op === "createOutputs")?.args[2] ?? {}) as Record<
    string,
    unknown
  >;
  return { outcome, outputs, log };
}

const at = (registry: TestRegistry, repository: string, auth = false) => ({
  RegistryType: auth ? "private_oci" : "public_oci",
  LoginServer: `http://${registry.host}`,
  Repository: repository,
  ...(auth ? { OCIAuth: { Username: TEST_REGISTRY_USER, Password: TEST_REGISTRY_PASSWORD } } : {}),
});

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry({ auth: "htpasswd" })]);
  srcClient = createRegistryClient({ registry: src.host, scheme: "http" });
});
afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
});

describe("oci-sync", () => {
  it("copies an artifact with all its platforms into the install's registry, keeping its digest", async () => {
    const index = await pushTestIndex(srcClient, "builds/app", "b1");
    const { outcome, outputs } = await sync({
      src_registry: at(src, "builds/app"),
      src_tag: "b1",
      dst_registry: at(dst, "install/app", true),
      dst_tag: "deploy-1",
    });
    expect(outcome.message).toBeUndefined();
    expect(outputs).toMatchObject({
      digest: index.digest,
      tag: "deploy-1",
      platforms: ["linux/amd64", "linux/arm64"],
      image: {
        repository: `${dst.host}/install/app`,
        ref: `${dst.host}/install/app:deploy-1@${index.digest}`,
      },
    });
    const dstClient = createRegistryClient({
      registry: dst.host,
      scheme: "http",
      credentials: { kind: "basic", username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD },
    });
    expect((await dstClient.getManifest("install/app", "deploy-1")).digest).toBe(index.digest);
    for (const blob of index.blobs) expect(await dstClient.hasBlob("install/app", blob)).toBe(true);
  });

  it("mounts blobs when source and destination share a registry, and uses src_tag when dst_tag is empty", async () => {
    await pushTestIndex(srcClient, "builds/lib", "b2");
    const { outcome, outputs, log } = await sync({
      src_registry: at(src, "builds/lib"),
      src_tag: "b2",
      dst_registry: at(src, "copies/lib"),
    });
    expect(outcome.message).toBeUndefined();
    expect(outputs.tag).toBe("b2");
    expect(log.messages.filter((m) => m.startsWith("info: blob mounted"))).toHaveLength(4);
    expect(log.messages.some((m) => m.startsWith("info: blob copied"))).toBe(false);
  });

  it("fails naming the source reference when its tag does not exist", async () => {
    const { outcome } = await sync({
      src_registry: at(src, "builds/app"),
      src_tag: "missing",
      dst_registry: at(dst, "install/app", true),
      dst_tag: "x",
    });
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("execute");
    expect(outcome.message).toContain(`${src.host}/builds/app:missing was not found`);
  });

  it("fails in validate when the plan has no src_tag", async () => {
    const { outcome } = await sync({
      src_registry: at(src, "builds/app"),
      dst_registry: at(dst, "install/app", true),
    });
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("validate");
    expect(outcome.message).toMatch(/no src_tag/);
  });

  // Real ECR credentials go through the AWS SDK; test/sources/oci-cloud-auth.test.ts covers them against a
  // loopback emulator. Here: a configuration refused before any request leaves this machine.
  it("fails clearly, before any request, for an ECR destination that asks to assume a role", async () => {
    const { outcome } = await sync({
      src_registry: at(src, "builds/app"),
      src_tag: "b1",
      dst_registry: {
        RegistryType: "ecr",
        Repository: "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        ECRAuth: { region: "us-east-1", assume_role: { role_arn: "arn:aws:iam::123456789012:role/push" } },
      },
    });
    expect(outcome.status).toBe("failed");
    expect(outcome.message).toMatch(/ECRAuth\.assume_role is not supported yet/);
  });
});
