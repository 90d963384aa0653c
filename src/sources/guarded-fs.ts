/**
 * The file system isomorphic-git writes through, fenced to one directory: every write, mkdir, link, removal
 * and chmod is checked (lexically and through symlinks on disk) to stay inside `root` before it happens.
 * isomorphic-git already refuses unsafe tree paths and symlinked parents; this makes "nothing lands outside
 * the checkout" a property of this module rather than of a dependency.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { PromiseFsClient } from "isomorphic-git";
import { assertRealPathInsideSync, resolveInside } from "../workspace/safe-path.ts";

type PathLike = string;

/** An fs client for isomorphic-git (it reads `promises`) whose writes cannot leave `root`. */
export function guardedFs(root: string): PromiseFsClient {
  const base = path.resolve(root);
  /** The path itself, following a symlink at it (a write through a link lands where it points). */
  const checkTarget = (p: PathLike): void => {
    const rel = path.relative(base, path.resolve(base, p));
    assertRealPathInsideSync(base, resolveInside(base, rel));
  };
  /** The directory the entry lives in (the entry itself is replaced or removed, not written through). */
  const checkParent = (p: PathLike): void => {
    const rel = path.relative(base, path.resolve(base, p));
    const lexical = resolveInside(base, rel);
    if (lexical === base) throw new Error(`refusing to replace or remove ${base} itself`);
    assertRealPathInsideSync(base, path.dirname(lexical));
  };
  const promises = {
    readFile: fsp.readFile,
    stat: fsp.stat,
    lstat: fsp.lstat,
    readdir: fsp.readdir,
    readlink: fsp.readlink,
    writeFile: async (
      file: PathLike,
      data: Parameters<typeof fsp.writeFile>[1],
      options?: Parameters<typeof fsp.writeFile>[2],
    ) => {
      checkTarget(file);
      return fsp.writeFile(file, data, options);
    },
    mkdir: async (dir: PathLike, options?: Parameters<typeof fsp.mkdir>[1]) => {
      checkTarget(dir);
      return fsp.mkdir(dir, options);
    },
    symlink: async (target: string, file: PathLike) => {
      checkParent(file);
      return fsp.symlink(target, file);
    },
    unlink: async (file: PathLike) => {
      checkParent(file);
      return fsp.unlink(file);
    },
    rmdir: async (dir: PathLike) => {
      checkParent(dir);
      return fsp.rmdir(dir);
    },
    rm: async (p: PathLike, options?: Parameters<typeof fsp.rm>[1]) => {
      checkParent(p);
      return fsp.rm(p, options);
    },
    chmod: async (p: PathLike, mode: Parameters<typeof fsp.chmod>[1]) => {
      checkTarget(p);
      return fsp.chmod(p, mode);
    },
  };
  return { promises };
}
