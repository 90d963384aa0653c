/**
 * One entry for handlers: turn a plan's `git_source {url, ref, path, recurse_submodules}`, or a local
 * directory (run-local), into a directory inside the job's workspace.
 */
import * as z from "zod";
import { caseInsensitiveKeys } from "../control-plane/go-keys.ts";
import { assertRealPathInsideSync, resolveInside } from "../workspace/safe-path.ts";
import { fetchGitSource, type GitAuth, type GitFetchLog } from "./git.ts";
import { isRealDirectory } from "./links.ts";
import { copyLocalSource } from "./local.ts";

/** A plan's git source (PROTOCOL.md §1.8: `url, ref, path, recurse_submodules`); keys matched case-insensitively. */
export const GitSourcePlan = caseInsensitiveKeys(
  z.looseObject({
    url: z.string().min(1),
    ref: z.string().nullish(),
    path: z.string().nullish(),
    recurse_submodules: z.boolean().nullish(),
  }),
);
export type GitSourcePlan = z.infer<typeof GitSourcePlan>;

/** Where a source comes from. */
export type SourceSpec =
  /** A git repository; `auth` when the URL does not carry its credentials. */
  | { git: GitSourcePlan; auth?: GitAuth }
  /** A local directory (run-local), optionally a subdirectory `path` of it. */
  | { local: string; path?: string };

/** Options of resolveSource. */
export interface ResolveSourceOptions {
  /** The job's workspace directory. */
  workspaceDir: string;
  /** Directory name (relative) inside the workspace to put the source in; must be missing or empty. */
  name: string;
  signal?: AbortSignal;
  log?: GitFetchLog;
}

/** A source placed in the workspace. */
export interface ResolvedSource {
  /** Absolute directory to work in: the source's `path` inside it, or its root. */
  dir: string;
  /** Absolute root of the copy or checkout. */
  root: string;
  /** The commit checked out (git only). */
  commit?: string;
}

/** Fetches or copies `spec` into `<workspaceDir>/<name>` and returns the directory to work in. */
export async function resolveSource(spec: SourceSpec, opts: ResolveSourceOptions): Promise<ResolvedSource> {
  const target = assertRealPathInsideSync(opts.workspaceDir, resolveInside(opts.workspaceDir, opts.name));
  if ("git" in spec) {
    const { url, ref, path, recurse_submodules } = spec.git;
    const result = await fetchGitSource({
      url,
      ref: ref ?? "",
      dir: target,
      ...(path ? { path } : {}),
      recurseSubmodules: recurse_submodules ?? false,
      ...(spec.auth === undefined ? {} : { auth: spec.auth }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.log === undefined ? {} : { log: opts.log }),
    });
    return { dir: result.dir, root: result.checkoutDir, commit: result.commit };
  }
  opts.signal?.throwIfAborted();
  const copied = await copyLocalSource({ src: spec.local, dir: target });
  for (const skipped of copied.skipped) {
    opts.log?.warn("left an entry of the local source out", { path: skipped.path, reason: skipped.reason });
  }
  const dir = spec.path ? resolveInside(copied.dir, spec.path) : copied.dir;
  assertRealPathInsideSync(copied.dir, dir);
  if (!(await isRealDirectory(dir)))
    throw new Error(`path "${spec.path}" is not a directory of ${spec.local}`);
  return { dir, root: copied.dir };
}
