/**
 * Deploy sources from an OCI registry, shared by the terraform, helm and kubernetes-manifest handlers: the
 * plan's `src_registry` (an `OCIRegistryRepository`) names the repository and its credentials, `src_tag` (or a
 * digest) the artifact. fetchOciSource does the work (the manifest and every layer verified against their
 * digests, tarballs unpacked safely: no path leaves the directory, no link points out of it); this module adds
 * what a job needs around it: the registry password handed to the redactor before any request, errors that
 * name the reference, and a log line with the digest that was fetched.
 */
import type { RegistryConnectOptions } from "../sources/oci/connect.ts";
import { isDigest } from "../sources/oci/digest.ts";
import { type FetchedSource, fetchOciSource } from "../sources/oci/fetch.ts";
import { formatReference } from "../sources/oci/reference.ts";
import { OciRegistryRepository, repositoryLocation } from "../sources/oci/registry-config.ts";
import type { JobLog } from "./handler.ts";

/** Where a deploy's artifact is: the registry config and a tag or digest (the digest wins). */
export interface OciSourceRef {
  /** The plan's `src_registry` (raw JSON; Go field names, matched case-insensitively). */
  registry: unknown;
  tag?: string | undefined;
  digest?: string | undefined;
}

/** What fetchDeploySource needs. */
export interface FetchDeploySourceInput extends OciSourceRef {
  /** What is fetched, for messages: "terraform module", "helm chart", "kubernetes manifest". */
  what: string;
  /** Directory to fill; created when missing, must be empty. */
  dir: string;
  signal: AbortSignal;
  log: JobLog;
  /** Receives the registry credentials before they are used, so logs and errors never show them. */
  onSecret?: ((secret: string) => void) | undefined;
  /** Dispatcher and timeouts of registry requests; default undici's global dispatcher. */
  connect?: RegistryConnectOptions | undefined;
}

/**
 * Splits a plan's `src_tag` into tag or digest: Nuon sends a tag, a digest (`sha256:…`) pins the artifact.
 * Empty strings count as absent.
 */
export function tagOrDigest(value: string | null | undefined): { tag?: string; digest?: string } {
  if (value === undefined || value === null || value.trim() === "") return {};
  const trimmed = value.trim();
  return isDigest(trimmed) ? { digest: trimmed } : { tag: trimmed };
}

/**
 * `registry/repository:tag` or `…@digest` for messages; throws an Error naming the field when the registry
 * config cannot be used (no Repository, a bad name) or neither tag nor digest is given.
 */
export function describeOciSource(ref: OciSourceRef, field = "src_registry"): string {
  const parsed = OciRegistryRepository.safeParse(ref.registry ?? {});
  if (!parsed.success) throw new Error(`${field} is not a registry config: ${parsed.error.message}`);
  let location: ReturnType<typeof repositoryLocation>;
  try {
    location = repositoryLocation(parsed.data);
  } catch (err) {
    throw new Error(`${field} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  const name = formatReference({ registry: location.registry, repository: location.repository });
  if (ref.digest) return `${name}@${ref.digest}`;
  if (ref.tag) return `${name}:${ref.tag}`;
  throw new Error(`${field} names ${name} but the plan gives no tag or digest to fetch (src_tag)`);
}

/** The secrets a registry config carries (OCIAuth password and username), for redactors. */
export function registrySecrets(registry: unknown): string[] {
  const parsed = OciRegistryRepository.safeParse(registry ?? {});
  if (!parsed.success) return [];
  const password = parsed.data.OCIAuth?.Password ?? "";
  return password === "" ? [] : [password];
}

/** Fetches the artifact into `dir` (see the module comment); throws an Error naming the reference. */
export async function fetchDeploySource(input: FetchDeploySourceInput): Promise<FetchedSource> {
  for (const secret of registrySecrets(input.registry)) input.onSecret?.(secret);
  const ref = describeOciSource(input);
  input.log.info(`fetching the ${input.what} from the registry`, { ref });
  let fetched: FetchedSource;
  try {
    fetched = await fetchOciSource({
      ...input.connect,
      registry: input.registry,
      ...(input.digest ? { digest: input.digest } : {}),
      ...(input.tag ? { tag: input.tag } : {}),
      dir: input.dir,
      signal: input.signal,
    });
  } catch (err) {
    if (input.signal.aborted) throw err;
    throw new Error(`cannot fetch the ${input.what} from ${ref}: ${(err as Error).message}`, { cause: err });
  }
  input.log.info(`fetched the ${input.what}`, {
    ref,
    digest: fetched.digest,
    artifact: fetched.ref,
    files: fetched.files.length,
  });
  return fetched;
}
