/**
 * Swapping the runner binary in place, crash-safe: the verified download waits at `<binary>.new`; the
 * current binary is kept as `<binary>.previous` (a hard link, so the binary path never disappears), then
 * `.new` is renamed over the binary and the directory fsynced. Rolling back renames `.previous` over the
 * binary again, keeping the rejected one as `<binary>.failed` for inspection.
 */
import { copyFile, link, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fsyncDir } from "../fs/atomic-file.ts";

/** The files around a binary. */
export interface BinaryPaths {
  current: string;
  /** The verified download, before the swap. */
  next: string;
  /** The binary before the last swap. */
  previous: string;
  /** The binary a rollback replaced. */
  failed: string;
}

/** The paths around `binary`. */
export function binaryPaths(binary: string): BinaryPaths {
  return {
    current: binary,
    next: `${binary}.new`,
    previous: `${binary}.previous`,
    failed: `${binary}.failed`,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Makes `to` a copy of `from` (a hard link when the file system allows it). */
async function keepCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Moves `.new` over the binary, keeping the old one as `.previous`; returns whether there was one. */
export async function swapInNewBinary(binary: string): Promise<{ keptPrevious: boolean }> {
  const p = binaryPaths(binary);
  if (!(await exists(p.next))) throw new Error(`${p.next} does not exist; nothing to swap in`);
  const keptPrevious = await exists(p.current);
  if (keptPrevious) await keepCopy(p.current, p.previous);
  await rename(p.next, p.current);
  await fsyncDir(path.dirname(binary));
  return { keptPrevious };
}

/** Puts `.previous` back as the binary (the rejected one becomes `.failed`); throws when there is none. */
export async function rollBackBinary(binary: string): Promise<void> {
  const p = binaryPaths(binary);
  if (!(await exists(p.previous))) {
    throw new Error(`${p.previous} does not exist; there is nothing to roll back to`);
  }
  if (await exists(p.current)) await keepCopy(p.current, p.failed);
  await rename(p.previous, p.current);
  await fsyncDir(path.dirname(binary));
}
