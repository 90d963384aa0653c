/**
 * Keeping paths built from job data inside a directory. `resolveInside` is the pure, lexical check (no `..`
 * escape, no absolute paths); `assertRealPathInside` also follows symlinks on disk, so a link planted in the
 * workspace (by an archive, a git checkout, a script) cannot point a later write or read outside of it.
 */
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";

/** A path would leave the directory it must stay in. */
export class WorkspaceEscapeError extends Error {
  override readonly name = "WorkspaceEscapeError";
  /** The directory the path had to stay in. */
  readonly base: string;
  /** The offending path, as given. */
  readonly target: string;

  constructor(base: string, target: string, reason: string) {
    super(`refusing path ${JSON.stringify(target)}: ${reason}; it must stay inside ${base}`);
    this.base = base;
    this.target = target;
  }
}

/**
 * Joins relative `segments` onto `base` and returns the absolute result; throws WorkspaceEscapeError when a
 * segment is absolute, contains a NUL byte, or `..` would leave `base`. Purely lexical: symlinks are not read.
 */
export function resolveInside(base: string, ...segments: string[]): string {
  const root = path.resolve(base);
  const joined = segments.join("/");
  for (const segment of segments) {
    if (segment.includes("\0")) throw new WorkspaceEscapeError(root, joined, "it contains a NUL byte");
    if (path.isAbsolute(segment)) throw new WorkspaceEscapeError(root, joined, "it is absolute");
  }
  const resolved = path.resolve(root, ...segments);
  if (!isWithin(root, resolved)) throw new WorkspaceEscapeError(root, joined, "it climbs out with ..");
  return resolved;
}

/**
 * Throws WorkspaceEscapeError unless `target` (absolute, or relative to `base`), after following every symlink
 * on disk, is `base` or inside it. A target that does not exist yet is judged by its nearest existing ancestor;
 * a dangling symlink is judged by where it points, since writing through it would create that file.
 * Returns the target's lexical absolute path.
 */
export async function assertRealPathInside(base: string, target: string): Promise<string> {
  return assertRealPathInsideSync(base, target);
}

/** Synchronous assertRealPathInside (a few lstat/realpath calls), for building paths in place. */
export function assertRealPathInsideSync(base: string, target: string): string {
  const absolute = path.resolve(base, target);
  const realBase = realpathSync(base);
  const realTarget = realpathOfNearest(absolute);
  if (!isWithin(realBase, realTarget)) {
    throw new WorkspaceEscapeError(base, target, `it resolves through a symlink to ${realTarget}`);
  }
  return absolute;
}

/** Whether `candidate` is `root` or below it (both absolute and normalized). */
export function isWithin(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return (
    relative === "" ||
    (!relative.startsWith(`..${path.sep}`) && relative !== ".." && !path.isAbsolute(relative))
  );
}

/** Most symlinks followed by hand before giving up (like the kernel's ELOOP limit). */
const MAX_LINK_HOPS = 40;

/** The real path of `absolute`, or of its nearest existing ancestor joined with the missing rest. */
function realpathOfNearest(absolute: string): string {
  let missing = "";
  let current = absolute;
  for (let hops = 0; ; ) {
    try {
      return path.join(realpathSync(current), missing);
    } catch (error) {
      if (!isMissing(error) || path.dirname(current) === current) throw error;
    }
    const link = readLinkIfSymlink(current);
    if (link !== undefined) {
      // A dangling symlink: follow it by hand, it names where a write would land.
      if (++hops > MAX_LINK_HOPS) throw new Error(`too many levels of symbolic links at ${current}`);
      current = path.resolve(path.dirname(current), link);
      continue;
    }
    missing = path.join(path.basename(current), missing);
    current = path.dirname(current);
  }
}

function readLinkIfSymlink(p: string): string | undefined {
  try {
    return lstatSync(p).isSymbolicLink() ? readlinkSync(p) : undefined;
  } catch {
    return undefined;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ENOTDIR: a path component is a file; the rest cannot exist yet either.
  return code === "ENOENT" || code === "ENOTDIR";
}
