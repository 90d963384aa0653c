/**
 * AWS: who this machine is (IMDSv2: a PUT for a session token, then the instance identity document) and
 * stopping it (EC2 StopInstances). The real SDKs do the talking; every address is injectable so tests point
 * them at loopback emulators. Credentials come from the SDK's default chain, which on an instance is its
 * instance profile, read from the same metadata service (`AWS_EC2_METADATA_SERVICE_ENDPOINT` moves both).
 * The SDKs are imported on first use: every other command starts without loading them.
 */
import type { EC2ClientConfig } from "@aws-sdk/client-ec2";
import type { MetadataService } from "@aws-sdk/ec2-metadata-service";
import * as z from "zod";

/** An EC2 instance, as its metadata service describes it. */
export interface AwsInstance {
  cloud: "aws";
  /** e.g. `i-0123456789abcdef0`. */
  instanceId: string;
  region: string;
  accountId?: string;
}

/** Where the AWS calls go; every field optional (the SDK defaults are the real services). */
export interface AwsOptions {
  /** IMDS base URL; default the SDK's (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, else http://169.254.169.254). */
  imdsEndpoint?: string;
  /** Deadline of each metadata request in ms; default 1000 (off AWS nothing answers). */
  imdsTimeoutMs?: number;
  /** EC2 API endpoint; default the SDK's regional endpoint (`AWS_ENDPOINT_URL_EC2` also works). */
  ec2Endpoint?: string;
  /** Credentials; default the SDK's chain (env, profile, instance profile). */
  credentials?: EC2ClientConfig["credentials"];
}

/** Default deadline of one metadata request: 1 s. */
export const DEFAULT_IMDS_TIMEOUT_MS = 1_000;

const IdentityDocument = z.looseObject({
  instanceId: z.string().regex(/^i-[0-9a-z]+$/, "must be an instance id like i-0123…"),
  region: z.string().regex(/^[a-z0-9-]+$/, "must be a region like us-west-2"),
  accountId: z.string().optional(),
});

async function metadataService(options: AwsOptions): Promise<MetadataService> {
  const { MetadataService } = await import("@aws-sdk/ec2-metadata-service");
  return new MetadataService({
    ...(options.imdsEndpoint !== undefined ? { endpoint: options.imdsEndpoint } : {}),
    httpOptions: { timeout: options.imdsTimeoutMs ?? DEFAULT_IMDS_TIMEOUT_MS },
    ec2MetadataV1Disabled: true,
    retries: 0,
  });
}

/**
 * Reads the instance identity through IMDSv2. Resolves undefined when no metadata service answers the token
 * request (not on EC2, or IMDS disabled); throws when one answers but the identity is unusable.
 */
export async function detectAws(options: AwsOptions = {}): Promise<AwsInstance | undefined> {
  const imds = await metadataService(options);
  try {
    await imds.fetchMetadataToken();
  } catch {
    return undefined;
  }
  let text: string;
  try {
    text = await imds.request("/latest/dynamic/instance-identity/document", {});
  } catch (err) {
    throw new Error(
      `the EC2 metadata service gave a token but not the instance identity: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error("the EC2 instance identity document is not JSON", { cause: err });
  }
  const doc = IdentityDocument.safeParse(parsed);
  if (!doc.success) {
    throw new Error(`the EC2 instance identity document is unusable: ${z.prettifyError(doc.error)}`);
  }
  const { instanceId, region, accountId } = doc.data;
  return { cloud: "aws", instanceId, region, ...(accountId !== undefined ? { accountId } : {}) };
}

/** What StopInstances reported for the instance. */
export interface AwsStopResult {
  previousState?: string;
  currentState?: string;
}

/** Stops the instance (EC2 StopInstances; the OS gets an ACPI shutdown, so services stop gracefully). */
export async function stopAwsInstance(
  instance: AwsInstance,
  options: AwsOptions & { signal?: AbortSignal } = {},
): Promise<AwsStopResult> {
  const { EC2Client, StopInstancesCommand } = await import("@aws-sdk/client-ec2");
  const client = new EC2Client({
    region: instance.region,
    ...(options.ec2Endpoint !== undefined ? { endpoint: options.ec2Endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  });
  try {
    const out = await client.send(
      new StopInstancesCommand({ InstanceIds: [instance.instanceId] }),
      options.signal !== undefined ? { abortSignal: options.signal } : {},
    );
    const change = out.StoppingInstances?.find((s) => s.InstanceId === instance.instanceId);
    return {
      ...(change?.PreviousState?.Name !== undefined ? { previousState: change.PreviousState.Name } : {}),
      ...(change?.CurrentState?.Name !== undefined ? { currentState: change.CurrentState.Name } : {}),
    };
  } catch (err) {
    throw new Error(
      `EC2 StopInstances for ${instance.instanceId} in ${instance.region} failed: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    client.destroy();
  }
}
