/**
 * Copying a local directory into the workspace (for `run-local`), never following a symlink out of it:
 * directories and regular files are copied with their permission bits; a symlink whose target stays inside
 * the source is recreated (an absolute one as a relative link, so it points into the copy); a symlink leading
 * out, and anything that is not a file, directory or link (sockets, FIFOs, devices), is skipped and reported.
 */

import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir, readlink, realpath, symlink } from "node:fs/promises";
import path from "node:path";
import { assertRealPathInsideSync, isWithin } from "../workspace/safe-path.ts";

/** Options of copyLocalSource. */
export interface CopyLocalSourceOptions {
  /** The directory to copy. */
  src: string;
  /** Target directory: missing or empty; created 0700. */
  dir: string;
}

/** What was copied. */
export interface CopiedSource {
  /** Absolute target directory. */
  dir: string;
  /** Files copied. */
  files: number;
  /** Entries left out (relative to `src`) and why. */
  skipped: Array<{ path: string; reason: string }>;
}

/** Copies `src` into `dir` (see the module comment); throws when `src` is not a directory or `dir` is not empty. */
export async function copyLocalSource(opts: CopyLocalSourceOptions): Promise<CopiedSource> {
  const src = await realpath(opts.src).catch((err: unknown) => {
    throw new Error(`local source ${opts.src} does not exist`, { cause: err });
  });
  if (!(await lstat(src)).isDirectory()) throw new Error(`local source ${opts.src} is not a directory`);
  const dir = path.resolve(opts.dir);
  if (isWithin(src, dir)) throw new Error(`cannot copy ${src} into ${dir}, which is inside it`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0) throw new Error(`the target directory ${dir} is not empty`);

  const result: CopiedSource = { dir, files: 0, skipped: [] };
  const dirModes: Array<[string, number]> = [];
  const pending: string[] = [""];
  for (let rel = pending.pop(); rel !== undefined; rel = pending.pop()) {
    for (const entry of await readdir(path.join(src, rel), { withFileTypes: true })) {
      const relPath = path.join(rel, entry.name);
      const from = path.join(src, relPath);
      const to = path.join(dir, relPath);
      if (entry.isDirectory()) {
        await mkdir(to, { mode: 0o700 });
        dirModes.push([to, (await lstat(from)).mode & 0o777]);
        pending.push(relPath);
      } else if (entry.isFile()) {
        await copyFile(from, to, constants.COPYFILE_EXCL);
        await chmod(to, (await lstat(from)).mode & 0o777);
        result.files++;
      } else if (entry.isSymbolicLink()) {
        const target = await linkTargetInside(src, from);
        if (target === undefined) {
          result.skipped.push({ path: relPath, reason: "symlink points outside the source" });
          continue;
        }
        await symlink(path.relative(path.dirname(from), target), to);
      } else {
        result.skipped.push({ path: relPath, reason: "not a file, directory or symlink" });
      }
    }
  }
  // Directories get their modes last (a read-only one must still receive its entries); the root stays 0700.
  for (const [to, mode] of dirModes.reverse()) await chmod(to, mode);
  return result;
}

/** Where the link at `from` points (absolute, lexically inside `src`), or undefined when it leads out. */
async function linkTargetInside(src: string, from: string): Promise<string | undefined> {
  const raw = await readlink(from);
  const target = path.resolve(path.dirname(from), raw);
  if (!isWithin(src, target)) return undefined;
  try {
    assertRealPathInsideSync(src, from);
  } catch {
    return undefined;
  }
  return target;
}
