/**
 * Pulling a kubernetes-manifest-deploy's manifest from its OCI artifact (plan.ts says which one). The artifact
 * is fetched into a private directory with every digest verified and tarballs unpacked safely
 * (oci-source.ts); the manifest is then, by the artifact's layout:
 *
 * 1. `manifest.yaml` at the artifact's top: what Nuon's kubernetes-manifest-build pushes (its runner archive:
 *    one `application/vnd.nuon.archive.layer.v1.tar+gzip` layer titled `.`, unpacked), and what Nuon's runner
 *    reads;
 * 2. otherwise every `*.yaml` / `*.yml` file of the artifact, in path order (bytewise), as one multi-document
 *    manifest: a single YAML layer pushed with a title (`oras push repo:tag app.yaml`), or a tar / tar.gz
 *    layer of YAML files (`kustomize build` output split into files, a `manifests/` directory).
 *
 * A kustomization directory (a `kustomization.yaml` without `manifest.yaml`) is refused: this runner does
 * not run kustomize; the build must push the rendered manifest. An artifact without YAML fails naming it.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { RegistryConnectOptions } from "../../sources/oci/connect.ts";
import { assertRealPathInsideSync, resolveInside } from "../../workspace/safe-path.ts";
import type { JobLog } from "../handler.ts";
import { fetchDeploySource, type OciSourceRef } from "../oci-source.ts";

/** The file Nuon's kubernetes-manifest artifacts hold the rendered manifest in. */
export const MANIFEST_FILE_NAME = "manifest.yaml";

/** What pullManifest needs. */
export interface PullManifestInput {
  source: OciSourceRef;
  /** The job's workspace; default a private temporary directory. Either way the files are removed after. */
  workspaceDir?: string | undefined;
  signal: AbortSignal;
  log: JobLog;
  onSecret?: ((secret: string) => void) | undefined;
  connect?: RegistryConnectOptions | undefined;
}

/** A pulled manifest. */
export interface PulledManifest {
  /** The multi-document YAML. */
  manifest: string;
  /** The artifact's manifest digest. */
  digest: string;
  /** `registry/repository@digest`. */
  ref: string;
  /** The artifact files the manifest was read from, in order. */
  files: string[];
}

/** Which of an artifact's files make the manifest (see the module comment); throws naming the artifact. */
export function manifestFiles(files: readonly string[], artifact: string): string[] {
  if (files.includes(MANIFEST_FILE_NAME)) return [MANIFEST_FILE_NAME];
  const yaml = files
    .filter((file) => /\.ya?ml$/i.test(file))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (yaml.some((file) => /^kustomization\.ya?ml$/i.test(path.posix.basename(file)))) {
    throw new Error(
      `the artifact ${artifact} is a kustomization (it holds kustomization.yaml but no ${MANIFEST_FILE_NAME}); this runner does not run kustomize, so the build must push the rendered manifest`,
    );
  }
  if (yaml.length === 0) {
    const shown = files.slice(0, 10).join(", ") || "nothing";
    throw new Error(
      `the artifact ${artifact} holds no YAML manifest (no .yaml or .yml file); it holds: ${shown}`,
    );
  }
  return yaml;
}

/** Joins YAML files into one multi-document manifest, each file starting a new document. */
export function joinManifests(texts: readonly string[]): string {
  return texts
    .map((text) => text.replace(/\s+$/, ""))
    .filter((text) => text !== "")
    .join("\n---\n")
    .concat("\n");
}

/** Fetches the artifact and reads its manifest (see the module comment). */
export async function pullManifest(input: PullManifestInput): Promise<PulledManifest> {
  const parent = input.workspaceDir ?? (await mkdtemp(path.join(tmpdir(), "runner-manifest-")));
  const dir = resolveInside(parent, "manifest-artifact");
  try {
    const fetched = await fetchDeploySource({
      what: "kubernetes manifest",
      ...input.source,
      dir,
      signal: input.signal,
      log: input.log,
      onSecret: input.onSecret,
      connect: input.connect,
    });
    const chosen = manifestFiles(fetched.files, fetched.ref);
    const texts: string[] = [];
    for (const file of chosen)
      texts.push(await readFile(assertRealPathInsideSync(dir, resolveInside(dir, file)), "utf8"));
    return { manifest: joinManifests(texts), digest: fetched.digest, ref: fetched.ref, files: chosen };
  } finally {
    await rm(input.workspaceDir === undefined ? parent : dir, { recursive: true, force: true });
  }
}
