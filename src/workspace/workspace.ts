/**
 * Per-job working directories: `<root>/<jobId>-<executionId>`, private to the runner's user (0700), every
 * path inside built with `path()` so job data cannot reach outside, removed by `cleanup()` unless kept for
 * debugging. `cleanupStaleWorkspaces` removes what a crashed runner left behind.
 */
import { chmod, lstat, mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { assertRealPathInsideSync, resolveInside, WorkspaceEscapeError } from "./safe-path.ts";

/** Permission bits of the root and of each workspace: owner only. */
export const WORKSPACE_MODE = 0o700;

/** Options of createWorkspace. */
export interface CreateWorkspaceOptions {
  /** Directory holding all workspaces; created (0700) when missing. */
  root: string;
  /** The job's id; must be a plain name (letters, digits, `.`, `_`, `-`). */
  jobId: string;
  /** The execution's id; same rule as jobId. */
  executionId: string;
  /** Keep the directory on cleanup (for debugging); default false. */
  keep?: boolean;
}

/** One job execution's directory. */
export interface Workspace {
  /** Absolute path of the workspace directory. */
  readonly dir: string;
  /** Safe join inside `dir`; throws WorkspaceEscapeError for `..`, absolute paths, or symlinks leading out. */
  path(...segments: string[]): string;
  /** Creates (0700, with parents) and returns a directory inside the workspace; same checks as `path`. */
  subdir(name: string): Promise<string>;
  /** Removes the directory and everything in it, unless `keep`; safe to call more than once. */
  cleanup(): Promise<void>;
}

/** Creates a fresh, empty workspace (an existing one of the same execution, left by a crash, is replaced). */
export async function createWorkspace(options: CreateWorkspaceOptions): Promise<Workspace> {
  const root = path.resolve(options.root);
  const name = `${plainName(options.jobId, "jobId")}-${plainName(options.executionId, "executionId")}`;
  await mkdir(root, { recursive: true, mode: WORKSPACE_MODE });
  const dir = resolveInside(root, name);
  try {
    await mkdir(dir, { mode: WORKSPACE_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Left by a crash: replaced by an empty one (looked for only then, not before every job).
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: WORKSPACE_MODE });
  }
  // mkdir's mode is filtered by the umask; set it exactly.
  await chmod(dir, WORKSPACE_MODE);

  const safePath = (...segments: string[]): string =>
    assertRealPathInsideSync(dir, resolveInside(dir, ...segments));
  let removed = false;
  return {
    dir,
    path: safePath,
    async subdir(sub: string): Promise<string> {
      const target = safePath(sub);
      await mkdir(target, { recursive: true, mode: WORKSPACE_MODE });
      // Re-check: a symlink could have been swapped in while creating.
      return safePath(sub);
    },
    async cleanup(): Promise<void> {
      if (options.keep || removed) return;
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      removed = true;
    },
  };
}

/** Options of cleanupStaleWorkspaces. */
export interface CleanupStaleOptions {
  /** "Now", in ms since the epoch; default Date.now(). */
  nowMs?: number;
  /** Workspace directory names (or absolute paths) never removed, e.g. those of running jobs. */
  exclude?: Iterable<string>;
}

/**
 * Removes workspace directories in `root` last modified more than `olderThanMs` ago; returns the removed paths.
 * Only directories directly in `root` are considered; symlinks and files are left alone. A missing root is empty.
 */
export async function cleanupStaleWorkspaces(
  root: string,
  olderThanMs: number,
  options: CleanupStaleOptions = {},
): Promise<string[]> {
  const base = path.resolve(root);
  const cutoffMs = (options.nowMs ?? Date.now()) - olderThanMs;
  const exclude = new Set([...(options.exclude ?? [])].map((entry) => path.resolve(base, entry)));
  let names: string[];
  try {
    names = await readdir(base);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names) {
    const dir = path.join(base, name);
    if (exclude.has(dir)) continue;
    const stats = await lstat(dir).catch(() => undefined);
    if (stats === undefined || !stats.isDirectory() || stats.mtimeMs >= cutoffMs) continue;
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    removed.push(dir);
  }
  return removed;
}

function plainName(value: string, field: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(value) || value === "." || value === "..") {
    throw new WorkspaceEscapeError(
      "<workspace root>",
      value,
      `${field} must be a plain name (letters, digits, . _ -)`,
    );
  }
  return value;
}
