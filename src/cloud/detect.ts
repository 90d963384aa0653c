/**
 * Which cloud this machine runs on, and stopping it there. Both metadata services are asked at once (each
 * gives up after its own short deadline); the first to describe an instance wins. `cloud` forces one.
 */
import { type AwsInstance, type AwsOptions, detectAws, stopAwsInstance } from "./aws.ts";
import { type AzureInstance, type AzureOptions, deallocateAzureVm, detectAzure } from "./azure.ts";

/** A cloud this runner can stop itself on. */
export type CloudName = "aws" | "azure";

/** This machine, on one cloud. */
export type CloudInstance = AwsInstance | AzureInstance;

/** Addresses and credentials of both clouds, plus an optional forced choice. */
export interface CloudOptions {
  /** Only ask this cloud; default ask both. */
  cloud?: CloudName;
  aws?: AwsOptions;
  azure?: AzureOptions;
}

/** Reads the cloud options from the environment: `RUNNER_CLOUD` (aws | azure) forces one. */
export function cloudOptionsFromEnv(env: NodeJS.ProcessEnv): CloudOptions {
  const forced = env.RUNNER_CLOUD?.trim().toLowerCase();
  if (forced === undefined || forced === "") return {};
  if (forced !== "aws" && forced !== "azure") {
    throw new Error(`RUNNER_CLOUD must be aws or azure, got "${env.RUNNER_CLOUD}"`);
  }
  return { cloud: forced };
}

/** Finds this machine's instance; undefined when no metadata service answered. */
export async function detectCloud(options: CloudOptions = {}): Promise<CloudInstance | undefined> {
  const probes: Array<Promise<CloudInstance | undefined>> = [];
  if (options.cloud !== "azure") probes.push(detectAws(options.aws));
  if (options.cloud !== "aws") probes.push(detectAzure(options.azure));
  const settled = await Promise.allSettled(probes);
  const found = settled.find(
    (s): s is PromiseFulfilledResult<CloudInstance> => s.status === "fulfilled" && s.value !== undefined,
  );
  if (found !== undefined) return found.value;
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return undefined;
}

/** A short description for logs and outputs, e.g. `aws i-0abc (us-west-2)`. */
export function describeInstance(instance: CloudInstance): string {
  return instance.cloud === "aws"
    ? `aws ${instance.instanceId} (${instance.region})`
    : `azure ${instance.name} (resource group ${instance.resourceGroupName})`;
}

/** Stops (AWS) or deallocates (Azure) the instance. */
export async function stopInstance(
  instance: CloudInstance,
  options: CloudOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = options.signal !== undefined ? { signal: options.signal } : {};
  if (instance.cloud === "aws") await stopAwsInstance(instance, { ...options.aws, ...signal });
  else await deallocateAzureVm(instance, { ...options.azure, ...signal });
}
