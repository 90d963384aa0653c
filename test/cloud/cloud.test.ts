/**
 * Cloud detection and self-stop with the REAL SDKs (@aws-sdk/ec2-metadata-service, @aws-sdk/client-ec2,
 * @azure/identity, @azure/arm-compute) pointed at loopback emulators: nothing leaves 127.0.0.1.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { detectAws, stopAwsInstance } from "../../src/cloud/aws.ts";
import { azureImdsBaseUrl, deallocateAzureVm, detectAzure } from "../../src/cloud/azure.ts";
import { cloudOptionsFromEnv, detectCloud, stopInstance } from "../../src/cloud/detect.ts";
import { testCertificates } from "../support/tls.ts";
import {
  AWS_INSTANCE,
  AZURE_VM,
  type Emulator,
  startArm,
  startAwsImds,
  startAzureImds,
  startEc2,
} from "./emulators.ts";

const emulators: Emulator[] = [];
const savedEnv = { ...process.env };
let emptyDir = "";

async function start<T extends Emulator>(emulator: Promise<T>): Promise<T> {
  const e = await emulator;
  emulators.push(e);
  return e;
}

/** A closed loopback port: connecting is refused at once, like a machine without a metadata service. */
let NOWHERE = "";

beforeAll(async () => {
  const probe = await startEc2();
  NOWHERE = probe.url;
  await probe.close();
});

beforeEach(async () => {
  emptyDir = await mkdtemp(path.join(tmpdir(), "runner-cloud-"));
  // the SDK credential chains must not read this machine's files or variables
  for (const name of Object.keys(process.env)) {
    if (/^(AWS_|AZURE_|IDENTITY_|MSI_|IMDS_)/.test(name)) delete process.env[name];
  }
  process.env.AWS_CONFIG_FILE = path.join(emptyDir, "config");
  process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(emptyDir, "credentials");
});

afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
  process.env = { ...savedEnv };
  await rm(emptyDir, { recursive: true, force: true });
});

describe("AWS", () => {
  it("reads the instance identity through IMDSv2: a token PUT first, then GETs carrying the token", async () => {
    const imds = await start(startAwsImds());
    const instance = await detectAws({ imdsEndpoint: imds.url });
    expect(instance).toEqual({
      cloud: "aws",
      instanceId: AWS_INSTANCE.instanceId,
      region: AWS_INSTANCE.region,
      accountId: AWS_INSTANCE.accountId,
    });
    expect(imds.requests[0]).toMatchObject({ method: "PUT", url: "/latest/api/token" });
    expect(imds.requests[0]?.headers["x-aws-ec2-metadata-token-ttl-seconds"]).toBeDefined();
    const get = imds.requests.find((r) => r.url === "/latest/dynamic/instance-identity/document");
    expect(get?.method).toBe("GET");
    expect(get?.headers["x-aws-ec2-metadata-token"]).toBe("imds-session-token-1");
  });

  it("is not AWS when nothing answers, or when the token request is refused (no IMDSv1 fallback)", async () => {
    expect(await detectAws({ imdsEndpoint: NOWHERE })).toBeUndefined();
    const refusing = await start(startAwsImds({ tokenFails: true }));
    expect(await detectAws({ imdsEndpoint: refusing.url })).toBeUndefined();
    expect(refusing.requests.map((r) => r.method)).toEqual(["PUT"]);
  });

  it("fails naming the field when the identity document is unusable", async () => {
    const imds = await start(startAwsImds({ document: JSON.stringify({ region: "us-west-2" }) }));
    await expect(detectAws({ imdsEndpoint: imds.url })).rejects.toThrow(
      /identity document is unusable.*instanceId/s,
    );
  });

  it("stops the instance with StopInstances, signed with the instance profile credentials from IMDS", async () => {
    const imds = await start(startAwsImds());
    const ec2 = await start(startEc2());
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url;
    const instance = await detectAws();
    expect(instance?.instanceId).toBe(AWS_INSTANCE.instanceId);
    const result = await stopAwsInstance(instance!, { ec2Endpoint: ec2.url });
    expect(result).toEqual({ previousState: "running", currentState: "stopping" });

    expect(ec2.requests).toHaveLength(1);
    const call = ec2.requests[0]!;
    expect(call.method).toBe("POST");
    const form = Object.fromEntries(new URLSearchParams(call.body));
    expect(form).toEqual({
      Action: "StopInstances",
      Version: "2016-11-15",
      "InstanceId.1": AWS_INSTANCE.instanceId,
    });
    expect(call.body).toContain(`Action=StopInstances`);
    expect(call.body).toContain(`InstanceId.1=${AWS_INSTANCE.instanceId}`);
    expect(String(call.headers.authorization)).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${AWS_INSTANCE.accessKeyId}/\\d{8}/us-west-2/ec2/aws4_request`,
      ),
    );
    expect(call.headers["x-amz-security-token"]).toBe(AWS_INSTANCE.sessionToken);
    // the credentials were fetched from the instance profile, with an IMDSv2 token
    const creds = imds.requests.filter((r) =>
      r.url.startsWith("/latest/meta-data/iam/security-credentials/"),
    );
    expect(creds.map((r) => r.url)).toContain(
      `/latest/meta-data/iam/security-credentials/${AWS_INSTANCE.role}`,
    );
  });

  it("reports a StopInstances that cannot reach EC2 naming the instance", async () => {
    const instance = { cloud: "aws" as const, instanceId: "i-0abc", region: "eu-west-1" };
    await expect(
      stopAwsInstance(instance, {
        ec2Endpoint: NOWHERE,
        credentials: { accessKeyId: "A", secretAccessKey: "x" },
      }),
    ).rejects.toThrow(/StopInstances for i-0abc in eu-west-1 failed/);
  });
});

describe("Azure", () => {
  it("reads the VM identity from /metadata/instance with the Metadata header", async () => {
    const imds = await start(startAzureImds());
    const vm = await detectAzure({ imdsBaseUrl: imds.url });
    expect(vm).toEqual({
      cloud: "azure",
      subscriptionId: AZURE_VM.subscriptionId,
      resourceGroupName: AZURE_VM.resourceGroupName,
      name: AZURE_VM.name,
      vmId: AZURE_VM.vmId,
    });
    expect(imds.requests[0]?.url).toBe("/metadata/instance?api-version=2021-02-01");
    expect(imds.requests[0]?.headers.metadata).toBe("true");
  });

  it("takes the IMDS address from AZURE_POD_IDENTITY_AUTHORITY_HOST, as @azure/identity does", () => {
    expect(azureImdsBaseUrl({}, {})).toBe("http://169.254.169.254");
    expect(azureImdsBaseUrl({}, { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://127.0.0.1:1234/" })).toBe(
      "http://127.0.0.1:1234",
    );
    expect(
      azureImdsBaseUrl({ imdsBaseUrl: "http://x" }, { AZURE_POD_IDENTITY_AUTHORITY_HOST: "http://y" }),
    ).toBe("http://x");
  });

  it("is not Azure when nothing answers", async () => {
    expect(await detectAzure({ imdsBaseUrl: NOWHERE })).toBeUndefined();
  });

  it("deallocates the VM through ARM with a managed identity token, over verified TLS", async () => {
    const imds = await start(startAzureImds());
    const arm = await start(startArm());
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imds.url;
    const vm = await detectAzure();
    expect(vm?.name).toBe(AZURE_VM.name);
    await deallocateAzureVm(vm!, { armEndpoint: arm.url, armCa: testCertificates().caCert });

    const calls = arm.requests.filter((r) => r.url.includes("/deallocate"));
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.method).toBe("POST");
    expect(call.url).toBe(
      `/subscriptions/${AZURE_VM.subscriptionId}/resourceGroups/${AZURE_VM.resourceGroupName}` +
        `/providers/Microsoft.Compute/virtualMachines/${AZURE_VM.name}/deallocate?api-version=2026-04-01`,
    );
    expect(call.headers.authorization).toBe(`Bearer ${AZURE_VM.accessToken}`);
    const token = imds.requests.find((r) => r.url.startsWith("/metadata/identity/oauth2/token"));
    expect(token).toBeDefined();
    expect(token?.url).toContain("resource=https%3A%2F%2Fmanagement.azure.com");
  });

  it("refuses an ARM endpoint whose certificate it cannot verify", async () => {
    const imds = await start(startAzureImds());
    const arm = await start(startArm());
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imds.url;
    const vm = await detectAzure();
    await expect(deallocateAzureVm(vm!, { armEndpoint: arm.url })).rejects.toThrow(
      /deallocate of VM runner-vm-1 .* failed/,
    );
    expect(arm.requests).toHaveLength(0);
  });
});

describe("detectCloud", () => {
  it("finds AWS when only IMDSv2 answers, Azure when only Azure IMDS answers, nothing when neither", async () => {
    const aws = await start(startAwsImds());
    const azure = await start(startAzureImds());
    expect(
      (await detectCloud({ aws: { imdsEndpoint: aws.url }, azure: { imdsBaseUrl: NOWHERE } }))?.cloud,
    ).toBe("aws");
    expect(
      (await detectCloud({ aws: { imdsEndpoint: NOWHERE }, azure: { imdsBaseUrl: azure.url } }))?.cloud,
    ).toBe("azure");
    expect(
      await detectCloud({ aws: { imdsEndpoint: NOWHERE }, azure: { imdsBaseUrl: NOWHERE } }),
    ).toBeUndefined();
  });

  it("asks only the forced cloud", async () => {
    const aws = await start(startAwsImds());
    const azure = await start(startAzureImds());
    const found = await detectCloud({
      cloud: "azure",
      aws: { imdsEndpoint: aws.url },
      azure: { imdsBaseUrl: azure.url },
    });
    expect(found?.cloud).toBe("azure");
    expect(aws.requests).toHaveLength(0);
    expect(cloudOptionsFromEnv({ RUNNER_CLOUD: "AWS" })).toEqual({ cloud: "aws" });
    expect(cloudOptionsFromEnv({})).toEqual({});
    expect(() => cloudOptionsFromEnv({ RUNNER_CLOUD: "gcp" })).toThrow(/RUNNER_CLOUD must be aws or azure/);
  });

  it("stops the detected instance on its own cloud", async () => {
    const imds = await start(startAwsImds());
    const ec2 = await start(startEc2());
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url;
    const options = { aws: { ec2Endpoint: ec2.url }, azure: { imdsBaseUrl: NOWHERE } };
    const instance = await detectCloud(options);
    await stopInstance(instance!, options);
    expect(new URLSearchParams(ec2.requests[0]?.body).get("InstanceId.1")).toBe(AWS_INSTANCE.instanceId);
  });
});
