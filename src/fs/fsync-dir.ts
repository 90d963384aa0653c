/**
 * Fsyncs a directory so that a create, rename or unlink inside it survives a power loss. Its own module (no
 * node:crypto, unlike atomic-file.ts) because the agent's journal, loaded by an idle runner, uses it too.
 */
import { open } from "node:fs/promises";

/** Error codes of filesystems that refuse fsync on a directory (some network and FUSE mounts). */
const REFUSED = new Set(["EINVAL", "ENOTSUP", "EOPNOTSUPP", "EISDIR"]);

/** Fsyncs `dir`; a filesystem that refuses fsync on a directory is not an error (what was renamed stays so). */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch (err) {
    if (!REFUSED.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await handle.close();
  }
}
