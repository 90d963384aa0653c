/**
 * Spool directories kept for reuse. Making a directory and a file is by far the dearest part of a short job's
 * spool: ext4 charges an inode allocation for each (0.3–1 ms of system CPU each on the 2-CPU VMs the benchmark
 * runs on), while renaming a directory, opening an existing file and truncating it cost microseconds. So a
 * spool this process wrote, once done (sealed and fully acknowledged) and simple (one segment, nothing else), is
 * not deleted: its segment is truncated to empty and its directory renamed to `.free-<pid>-<n>`; the next
 * spool renames it to its own name and writes its segment over the empty one.
 *
 * Crash safety: a free directory holds only an empty segment, which no spool can be read from (no header, no
 * meta), so the next start deletes it with the other leftovers (shipper.ts `resumePending`); the same holds for
 * a directory taken for a new execution before its first record was written. Free names start with `.`, which
 * `spoolDir` never produces.
 */
import { renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Default number of free directories kept. */
export const SPOOL_POOL_DEFAULT_MAX = 32;

/** Free spool directories of one spool root. */
export interface SpoolDirPool {
  /** Renames a free directory (holding only an empty first segment) to `dir`; false when none could be. */
  take(dir: string): boolean;
  /** Keeps `dir` (holding only an empty first segment) for reuse; false when the pool is full or the rename
   * failed (the caller deletes it then). */
  put(dir: string): boolean;
  /** Free directories held now. */
  readonly size: number;
  /** Deletes every free directory (at shutdown). */
  clear(): void;
}

/** Creates a pool of at most `max` free directories under `root` (the spool root). */
export function createSpoolDirPool(root: string, max = SPOOL_POOL_DEFAULT_MAX): SpoolDirPool {
  const free: string[] = [];
  let next = 0;
  return {
    take(dir) {
      const path = free.pop();
      if (path === undefined) return false;
      try {
        renameSync(path, dir);
        return true;
      } catch (err) {
        // Gone (someone cleaned the state directory): forgotten. Otherwise `dir` was in the way: kept.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") free.push(path);
        return false;
      }
    },
    put(dir) {
      if (free.length >= max) return false;
      const path = join(root, `.free-${process.pid}-${next++}`);
      try {
        renameSync(dir, path);
      } catch {
        return false;
      }
      free.push(path);
      return true;
    },
    get size() {
      return free.length;
    },
    clear() {
      for (const path of free.splice(0)) rmSync(path, { recursive: true, force: true });
    },
  };
}
