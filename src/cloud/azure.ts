/**
 * Azure: who this machine is (the instance metadata service, `GET /metadata/instance` with `Metadata: true`)
 * and deallocating it (ARM `virtualMachines.deallocate` through @azure/arm-compute, authenticated by the VM's
 * managed identity). Every address is injectable so tests point the real SDKs at loopback emulators. The
 * SDKs are imported on first use: every other command starts without loading them.
 */
import type { TokenCredential } from "@azure/identity";
import { request } from "undici";
import * as z from "zod";

/** An Azure virtual machine, as its metadata service describes it. */
export interface AzureInstance {
  cloud: "azure";
  subscriptionId: string;
  resourceGroupName: string;
  /** The VM name. */
  name: string;
  vmId?: string;
}

/** Where the Azure calls go; every field optional (defaults are the real services). */
export interface AzureOptions {
  /** IMDS base URL; default `AZURE_POD_IDENTITY_AUTHORITY_HOST` (what @azure/identity uses too), else http://169.254.169.254. */
  imdsBaseUrl?: string;
  /** Deadline of the metadata request in ms; default 1000. */
  imdsTimeoutMs?: number;
  /** ARM endpoint; default https://management.azure.com. */
  armEndpoint?: string;
  /** Extra CA certificates (PEM) trusted for the ARM endpoint; default the system's. TLS is always verified. */
  armCa?: string;
  /** Token source; default a ManagedIdentityCredential (`AZURE_CLIENT_ID` picks a user-assigned identity). */
  credential?: TokenCredential;
}

/** The Azure IMDS address. */
export const AZURE_IMDS_BASE_URL = "http://169.254.169.254";
/** The instance metadata API version asked for. */
export const AZURE_IMDS_API_VERSION = "2021-02-01";

const InstanceMetadata = z.looseObject({
  compute: z.looseObject({
    subscriptionId: z.string().min(1),
    resourceGroupName: z.string().min(1),
    name: z.string().min(1),
    vmId: z.string().optional(),
  }),
});

/** The IMDS base URL to use: the option, else AZURE_POD_IDENTITY_AUTHORITY_HOST, else the real address. */
export function azureImdsBaseUrl(options: AzureOptions, env: NodeJS.ProcessEnv = process.env): string {
  const base = options.imdsBaseUrl ?? env.AZURE_POD_IDENTITY_AUTHORITY_HOST ?? AZURE_IMDS_BASE_URL;
  return base.replace(/\/+$/, "");
}

/**
 * Reads the VM identity from the instance metadata service. Resolves undefined when nothing answers (not
 * on Azure); throws when it answers but the identity is unusable.
 */
export async function detectAzure(options: AzureOptions = {}): Promise<AzureInstance | undefined> {
  const timeoutMs = options.imdsTimeoutMs ?? 1_000;
  const url = `${azureImdsBaseUrl(options)}/metadata/instance?api-version=${AZURE_IMDS_API_VERSION}`;
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      headers: { Metadata: "true" },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch {
    return undefined;
  }
  if (status !== 200) {
    throw new Error(`the Azure metadata service answered ${status} for the instance metadata`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error("the Azure instance metadata is not JSON", { cause: err });
  }
  const meta = InstanceMetadata.safeParse(parsed);
  if (!meta.success) {
    throw new Error(`the Azure instance metadata is unusable: ${z.prettifyError(meta.error)}`);
  }
  const { subscriptionId, resourceGroupName, name, vmId } = meta.data.compute;
  return { cloud: "azure", subscriptionId, resourceGroupName, name, ...(vmId !== undefined ? { vmId } : {}) };
}

/**
 * Deallocates the VM (compute released, not billed). Resolves once ARM accepted the operation; it does not
 * wait for completion, since completing it ends this process.
 */
export async function deallocateAzureVm(
  instance: AzureInstance,
  options: AzureOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const { ComputeManagementClient } = await import("@azure/arm-compute");
  const { ManagedIdentityCredential } = await import("@azure/identity");
  const credential =
    options.credential ??
    new ManagedIdentityCredential(
      process.env.AZURE_CLIENT_ID !== undefined ? { clientId: process.env.AZURE_CLIENT_ID } : {},
    );
  const client = new ComputeManagementClient(credential, instance.subscriptionId, {
    ...(options.armEndpoint !== undefined ? { endpoint: options.armEndpoint } : {}),
    ...(options.armCa !== undefined ? { tlsOptions: { ca: options.armCa } } : {}),
    retryOptions: { maxRetries: 2 },
  });
  try {
    const poller = client.virtualMachines.deallocate(instance.resourceGroupName, instance.name, {
      ...(options.signal !== undefined ? { abortSignal: options.signal } : {}),
    });
    await poller.submitted();
  } catch (err) {
    throw new Error(
      `Azure deallocate of VM ${instance.name} (resource group ${instance.resourceGroupName}) failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
