/**
 * Crash-safe file replacement, the one implementation for run records, the embedded control plane's state,
 * run-local's terraform state and mng's unit files: write a temporary file beside the target, fsync it, rename
 * it over the target, fsync the directory. A crash at any point leaves the old content or the new one, never a
 * mix. (The agent's journal writes in place instead: two slot files, see src/agent/journal.ts.)
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fsyncDir } from "./fsync-dir.ts";

export { fsyncDir } from "./fsync-dir.ts";

/**
 * Replaces `file` with `data` atomically, with permission bits `mode` (default 0o600); a missing directory is
 * created with mode 0700.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed it
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** The file's text, or undefined when it does not exist. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
