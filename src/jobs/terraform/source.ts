/**
 * Getting the terraform module into the job workspace (`<workspace>/module`) through src/sources: a local
 * directory (run-local) is copied, a git source is checked out, an OCI artifact (`src_registry` + `src_tag`,
 * as terraform-module-build or Nuon's runner push it) is fetched with its digests verified and unpacked
 * safely; terraform then works on a private copy and never writes into the original. Local archives are not
 * supported yet.
 */
import path from "node:path";
import type { RegistryConnectOptions } from "../../sources/oci/connect.ts";
import { resolveSource, type SourceSpec } from "../../sources/resolve.ts";
import { assertRealPathInsideSync, resolveInside } from "../../workspace/safe-path.ts";
import type { JobLog } from "../handler.ts";
import { fetchDeploySource } from "../oci-source.ts";
import type { ModuleSource } from "./plan.ts";

/** Name of the module's directory inside the workspace. */
export const MODULE_DIR_NAME = "module";

/** What prepareModule needs. */
export interface PrepareModuleInput {
  source: ModuleSource;
  /** The job workspace. */
  workspaceDir: string;
  /** Relative local directories are resolved against this; default process.cwd(). */
  cwd?: string;
  signal: AbortSignal;
  log: JobLog;
  /** Receives credentials of the source (a registry password), for the redactor. */
  onSecret?: (secret: string) => void;
  /** Dispatcher and timeouts of registry requests, for OCI sources; default undici's global dispatcher. */
  registry?: RegistryConnectOptions;
}

/** The module placed in the workspace. */
export interface PreparedModule {
  /** Absolute directory terraform runs in (a git source's `path` inside the checkout). */
  dir: string;
  /** The commit checked out, for git sources. */
  commit?: string;
  /** The manifest digest of the artifact fetched, for OCI sources. */
  digest?: string;
}

/** Places the module named by `source` in the workspace; throws an Error naming what is missing. */
export async function prepareModule(input: PrepareModuleInput): Promise<PreparedModule> {
  if (input.source.kind === "oci") {
    const dir = assertRealPathInsideSync(
      input.workspaceDir,
      resolveInside(input.workspaceDir, MODULE_DIR_NAME),
    );
    const fetched = await fetchDeploySource({
      what: "terraform module",
      registry: input.source.registry,
      tag: input.source.tag,
      digest: input.source.digest,
      dir,
      signal: input.signal,
      log: input.log,
      onSecret: input.onSecret,
      connect: input.registry,
    });
    return { dir: fetched.dir, digest: fetched.digest };
  }
  const spec = sourceSpec(input.source, input.cwd ?? process.cwd());
  input.log.info("fetching the terraform module", describeSource(input.source));
  const resolved = await resolveSource(spec, {
    workspaceDir: input.workspaceDir,
    name: MODULE_DIR_NAME,
    signal: input.signal,
    log: input.log,
  });
  if (resolved.commit !== undefined)
    input.log.info("checked out the terraform module", { commit: resolved.commit });
  return { dir: resolved.dir, ...(resolved.commit === undefined ? {} : { commit: resolved.commit }) };
}

function sourceSpec(source: ModuleSource, cwd: string): SourceSpec {
  switch (source.kind) {
    case "local":
      return { local: path.resolve(cwd, source.dir) };
    case "git":
      return {
        git: {
          url: source.url,
          ref: source.ref ?? "",
          ...(source.path === undefined ? {} : { path: source.path }),
          recurse_submodules: source.recurseSubmodules ?? false,
        },
      };
    case "oci":
      throw new Error("OCI module sources are fetched by prepareModule, not resolveSource");
    case "local-archive":
      throw new Error(
        "local_archive module sources are not supported yet; give the module as git_source or local_dir",
      );
  }
}

/** Log fields naming a source without credentials (a git URL's userinfo and query are dropped). */
function describeSource(source: ModuleSource): Record<string, unknown> {
  if (source.kind === "local") return { source: "local", dir: source.dir };
  if (source.kind === "git")
    return { source: "git", url: safeUrl(source.url), ref: source.ref, path: source.path };
  return { source: source.kind };
}

function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(unparsable url)";
  }
}
