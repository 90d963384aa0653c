/**
 * From a plan's `OCIRegistryRepository` to a client and repository name: where the repository is, which
 * credentials apply (registry-config.ts; ECR and ACR without OCIAuth: lazy cloud credentials, ecr.ts and
 * acr.ts, fetched at the first request), and a client for that registry.
 */
import type { TokenCredential } from "@azure/identity";
import type { Dispatcher } from "undici";
import { acrCredentials } from "./acr.ts";
import { createRegistryClient, type RegistryClient } from "./client.ts";
import { ecrCredentials } from "./ecr.ts";
import { formatReference, type ImageReference } from "./reference.ts";
import {
  cloudCredentialsSpec,
  credentialsFor,
  OciRegistryRepository,
  type RegistryCredentials,
  repositoryLocation,
} from "./registry-config.ts";

/** Options shared by everything that talks to registries on a job's behalf. */
export interface RegistryConnectOptions {
  /** Default undici's global dispatcher (TLS verified). */
  dispatcher?: Dispatcher;
  /** Upload chunk size in bytes; default 8 MiB. */
  chunkSizeBytes?: number;
  /** Header and body-gap deadline in ms; default 120 000. */
  timeoutMs?: number;
  /** Receives registry secrets (passwords, cloud tokens) as soon as they are known, for the redactor. */
  onSecret?: ((secret: string) => void) | undefined;
  /** ECR API endpoint URL (a loopback emulator in tests); default AWS_ENDPOINT_URL_ECR, else AWS's. */
  ecrEndpoint?: string | undefined;
  /** AAD token source for ACR without OCIAuth; default chosen from ACRAuth (acr.ts). */
  azureCredential?: TokenCredential | undefined;
  /** AAD authority host for ACR credentials made from ACRAuth; default the SDK's. */
  azureAuthorityHost?: string | undefined;
  /** Extra CA certificates (PEM) trusted for the AAD calls; default the system's. */
  azureCa?: string | undefined;
}

/** A repository ready to use. */
export interface ConnectedRepository {
  client: RegistryClient;
  repository: string;
  /** The repository as a reference (no tag or digest). */
  location: ImageReference;
  credentials: RegistryCredentials;
  /** `registry/repository`, for messages and outputs. */
  name: string;
}

/** Connects to the repository a registry config names; throws OciError INVALID/UNSUPPORTED. */
export function connectRepository(
  rawConfig: unknown,
  options: RegistryConnectOptions = {},
): ConnectedRepository {
  const config = OciRegistryRepository.parse(rawConfig ?? {});
  const location = repositoryLocation(config);
  const cloud = cloudCredentialsSpec(config);
  const credentials =
    cloud?.cloud === "ecr"
      ? ecrCredentials(cloud, { endpoint: options.ecrEndpoint, onSecret: options.onSecret })
      : cloud?.cloud === "acr"
        ? acrCredentials(cloud, {
            credential: options.azureCredential,
            authorityHost: options.azureAuthorityHost,
            aadCa: options.azureCa,
            dispatcher: options.dispatcher,
            timeoutMs: options.timeoutMs,
            onSecret: options.onSecret,
          })
        : credentialsFor(config);
  if (credentials.kind === "basic" && credentials.password !== "") options.onSecret?.(credentials.password);
  if (credentials.kind === "refresh-token") options.onSecret?.(credentials.refreshToken);
  const client = createRegistryClient({
    registry: location.registry,
    scheme: location.scheme,
    credentials,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.chunkSizeBytes ? { chunkSizeBytes: options.chunkSizeBytes } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return {
    client,
    repository: location.repository,
    location,
    credentials,
    name: formatReference({ registry: location.registry, repository: location.repository }),
  };
}
