/**
 * Symlinks that lead out of a fetched source. A repository (or a local directory) may hold links such as
 * `config -> /etc/passwd` or `up -> ../../..`; a later read or write through them would leave the workspace.
 * `removeEscapingLinks` walks a tree without following links and removes every link whose target, judged
 * lexically and on disk, is outside the root; links that stay inside are kept.
 */
import { lstat, readdir, readlink, realpath, unlink } from "node:fs/promises";
import path from "node:path";
import { assertRealPathInsideSync, isWithin } from "../workspace/safe-path.ts";

/** Whether the symlink at `linkPath` (absolute, inside `root`) points inside `root`, both lexically and on disk. */
export async function linkStaysInside(root: string, linkPath: string): Promise<boolean> {
  const target = await readlink(linkPath);
  if (path.isAbsolute(target)) return false;
  if (!isWithin(root, path.resolve(path.dirname(linkPath), target))) return false;
  try {
    assertRealPathInsideSync(root, linkPath);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes, below `root`, every symlink that points outside it (absolute targets included); returns the removed
 * paths relative to `root`. Directories named in `skipNames` (e.g. `.git`) are not entered. Repeats until no
 * link escapes, since removing one link can change where another one leads.
 */
export async function removeEscapingLinks(
  root: string,
  skipNames: readonly string[] = [],
): Promise<string[]> {
  const realRoot = await realpath(root);
  const removed: string[] = [];
  for (;;) {
    const links = await listLinks(realRoot, skipNames);
    let removedThisRound = 0;
    for (const link of links) {
      if (await linkStaysInside(realRoot, link)) continue;
      await unlink(link);
      removed.push(path.relative(realRoot, link));
      removedThisRound++;
    }
    if (removedThisRound === 0) return removed;
  }
}

/** Every symlink below `dir` (absolute paths), without following links. */
async function listLinks(dir: string, skipNames: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isSymbolicLink()) out.push(full);
      else if (entry.isDirectory() && !skipNames.includes(entry.name)) pending.push(full);
    }
  }
  return out;
}

/** Whether `p` exists and is a directory (not following a final symlink). */
export async function isRealDirectory(p: string): Promise<boolean> {
  const stats = await lstat(p).catch(() => undefined);
  return stats?.isDirectory() ?? false;
}
