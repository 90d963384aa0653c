/**
 * From a plan's `OCIRegistryRepository` to a client and repository name: where the repository is, which
 * credentials apply (registry-config.ts), and a client for that registry.
 */
import type { Dispatcher } from "undici";
import { createRegistryClient, type RegistryClient } from "./client.ts";
import { formatReference, type ImageReference } from "./reference.ts";
import {
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
  const credentials = credentialsFor(config);
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
