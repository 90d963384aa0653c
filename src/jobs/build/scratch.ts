/**
 * The directory a build works in: the job's workspace, or (when the runner gave none, e.g. in a bare test) a
 * private temporary directory removed by `release()`.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** A working directory and how to give it back. */
export interface BuildScratch {
  dir: string;
  /** Removes the directory when this module created it; a no-op for the job's workspace. */
  release(): Promise<void>;
}

/** The job's workspace, or a fresh 0700 temporary directory named after `handler`. */
export async function buildScratch(workspaceDir: string | undefined, handler: string): Promise<BuildScratch> {
  if (workspaceDir !== undefined) return { dir: workspaceDir, release: async () => undefined };
  const dir = await mkdtemp(path.join(tmpdir(), `runner-${handler}-`));
  await chmod(dir, 0o700);
  return { dir, release: () => rm(dir, { recursive: true, force: true }) };
}
