/**
 * Getting a build's source into the workspace (`<workspace>/source`): the plan's `git_source` checked out
 * through src/sources (git.ts), or, for run-local and tests, a local directory copied.
 */
import { type ResolvedSource, resolveSource } from "../../sources/resolve.ts";
import type { JobLog } from "../handler.ts";
import type { BuildPlan } from "./plan.ts";

/** Name of the source's directory inside the workspace. */
export const SOURCE_DIR_NAME = "source";

/** What fetchBuildSource needs. */
export interface FetchBuildSourceInput {
  plan: BuildPlan;
  workspaceDir: string;
  /** A local directory to build instead of `git_source` (run-local); default none. */
  localDir?: string | undefined;
  signal: AbortSignal;
  log: JobLog;
}

/** Places the build's source in the workspace; throws when the plan names none. */
export async function fetchBuildSource(input: FetchBuildSourceInput): Promise<ResolvedSource> {
  const options = {
    workspaceDir: input.workspaceDir,
    name: SOURCE_DIR_NAME,
    signal: input.signal,
    log: input.log,
  };
  if (input.localDir !== undefined) {
    input.log.info("copying the local build source", { dir: input.localDir });
    return resolveSource({ local: input.localDir }, options);
  }
  const git = input.plan.git_source;
  if (git === undefined || git === null) {
    throw new Error("the build plan has no git_source; nothing to build");
  }
  input.log.info("fetching the build source", {
    url: safeUrl(git.url),
    ref: git.ref ?? "",
    path: git.path ?? "",
  });
  const resolved = await resolveSource({ git }, options);
  if (resolved.commit !== undefined)
    input.log.info("checked out the build source", { commit: resolved.commit });
  return resolved;
}

/** A URL without userinfo and query, for logs. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(unparsable url)";
  }
}
