/**
 * Safe extraction of a tar stream into a directory. Every entry is checked before anything touches the disk:
 * absolute paths, `..` components, NUL bytes, symlinks or hardlinks leading outside the destination, device
 * files, FIFOs and unknown entry types are refused with an UnsafeArchiveError naming the entry, and every
 * write goes to a path that, after following symlinks already on disk, is still inside the destination
 * (files are opened with O_NOFOLLOW). Modes keep only the owner-executable bit (files 0644/0755, directories
 * 0755); owners and times are not restored. Sizes and entry counts are capped against archive bombs.
 */
import { constants } from "node:fs";
import { link, lstat, mkdir, open, readlink, realpath, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { assertRealPathInside, isWithin } from "../../workspace/safe-path.ts";
import { ByteReader } from "./byte-reader.ts";
import { BLOCK_BYTES, decodeHeader, decodePaxRecords, paddingFor } from "./tar-format.ts";

/** An archive entry was refused (unsafe or unsupported) or the archive is malformed. */
export class UnsafeArchiveError extends Error {
  override readonly name = "UnsafeArchiveError";
  /** The entry's path as stored, when an entry caused it. */
  readonly entry: string | undefined;

  constructor(message: string, entry?: string) {
    super(message);
    this.entry = entry;
  }
}

/** Options of extractTar. */
export interface ExtractTarOptions {
  /** Most bytes of file content extracted in total; default 4 GiB. */
  maxTotalBytes?: number;
  /** Most entries; default 200 000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

/** What was extracted. */
export interface ExtractTarResult {
  /** Relative paths of the regular files written, in archive order. */
  files: string[];
  /** Total content bytes written. */
  bytes: number;
}

/** Default cap on extracted content: 4 GiB. */
export const DEFAULT_MAX_EXTRACT_BYTES = 4 * 1024 ** 3;
/** Default cap on entries: 200 000. */
export const DEFAULT_MAX_EXTRACT_ENTRIES = 200_000;

/** Extracts the (uncompressed) tar `source` into the existing directory `destDir` (see the module comment). */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  destDir: string,
  options: ExtractTarOptions = {},
): Promise<ExtractTarResult> {
  const root = path.resolve(destDir);
  const maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_EXTRACT_BYTES;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_EXTRACT_ENTRIES;
  const reader = new ByteReader(source, () => new UnsafeArchiveError("tar archive is truncated"));
  const files: string[] = [];
  let total = 0;
  let entries = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  const realRoot = await realpath(root);
  const symlinks: Array<{ target: string; name: string }> = [];

  for (;;) {
    options.signal?.throwIfAborted();
    const block = await reader.read(BLOCK_BYTES);
    if (block === undefined)
      throw new UnsafeArchiveError("tar archive ends without its end-of-archive blocks");
    let header: ReturnType<typeof decodeHeader>;
    try {
      header = decodeHeader(block);
    } catch (error) {
      throw new UnsafeArchiveError(`malformed tar archive: ${(error as Error).message}`);
    }
    if (header === undefined) break; // end of archive (one zero block is enough)
    if (++entries > maxEntries)
      throw new UnsafeArchiveError(`tar archive has more than ${maxEntries} entries; refusing it`);

    // Metadata entries that apply to the next entry.
    if (header.typeflag === "x" || header.typeflag === "L" || header.typeflag === "K") {
      if (header.size > 1024 * 1024)
        throw new UnsafeArchiveError("tar extended header larger than 1 MiB; refusing it");
      const data = await reader.readExactly(header.size + paddingFor(header.size));
      const body = data.subarray(0, header.size);
      if (header.typeflag === "x") {
        try {
          pax = { ...pax, ...decodePaxRecords(body) };
        } catch (error) {
          throw new UnsafeArchiveError(`malformed tar archive: ${(error as Error).message}`);
        }
      } else {
        const text = body.toString("utf8").replace(/\0+$/, "");
        if (header.typeflag === "L") longName = text;
        else longLink = text;
      }
      continue;
    }
    if (header.typeflag === "g") {
      await reader.readExactly(header.size + paddingFor(header.size)); // global PAX header: nothing we use
      continue;
    }

    const name = pax.path ?? longName ?? header.name;
    const linkname = pax.linkpath ?? longLink ?? header.linkname;
    const size = pax.size === undefined ? header.size : Number(pax.size);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new UnsafeArchiveError(`refusing ${JSON.stringify(name)}: bad size`, name);
    pax = {};
    longName = undefined;
    longLink = undefined;

    const relative = safeRelativePath(name);
    if (isFileType(header.typeflag)) {
      total += size;
      if (total > maxTotalBytes)
        throw new UnsafeArchiveError(`tar archive holds more than ${maxTotalBytes} bytes; refusing it`, name);
    }
    if (!isFileType(header.typeflag)) {
      // Only regular files carry content; skip whatever another entry type claims to carry.
      await reader.readExactly(header.size + paddingFor(header.size));
    }
    if (relative === "") {
      // The archive's root directory ("./"); content, if a file claims that name, is skipped.
      if (isFileType(header.typeflag)) await reader.readExactly(size + paddingFor(size));
      continue;
    }
    const target = path.join(root, relative);
    switch (header.typeflag) {
      case "0":
      case "\0":
      case "7": {
        await ensureParent(root, target, name);
        await removeExisting(root, target, name);
        await writeFile(reader, target, size, header.mode, options.signal);
        await reader.readExactly(paddingFor(size));
        files.push(relative);
        break;
      }
      case "5": {
        await ensureParent(root, target, name);
        await assertInside(root, target, name);
        const existing = await lstat(target).catch(() => undefined);
        if (existing !== undefined && !existing.isDirectory())
          await rm(target, { recursive: true, force: true });
        await mkdir(target, { recursive: true, mode: 0o755 });
        break;
      }
      case "2": {
        await ensureParent(root, target, name);
        await assertLinkInside(realRoot, path.dirname(target), linkname, name);
        await removeExisting(root, target, name);
        await symlink(linkname, target);
        symlinks.push({ target, name });
        break;
      }
      case "1": {
        const linkRelative = safeRelativePath(linkname, name);
        const source = path.join(root, linkRelative);
        await assertInside(root, source, name);
        const stats = await lstat(source).catch(() => undefined);
        if (stats === undefined || !stats.isFile()) {
          throw new UnsafeArchiveError(
            `refusing hardlink ${JSON.stringify(name)}: its target ${JSON.stringify(linkname)} is not a file extracted before it`,
            name,
          );
        }
        await ensureParent(root, target, name);
        await removeExisting(root, target, name);
        await link(source, target);
        files.push(relative);
        break;
      }
      case "3":
      case "4":
        throw new UnsafeArchiveError(`refusing device file ${JSON.stringify(name)} in the archive`, name);
      case "6":
        throw new UnsafeArchiveError(`refusing FIFO ${JSON.stringify(name)} in the archive`, name);
      default:
        throw new UnsafeArchiveError(
          `refusing ${JSON.stringify(name)}: unsupported tar entry type ${JSON.stringify(header.typeflag)}`,
          name,
        );
    }
  }
  // Later entries may have replaced what an earlier link pointed through: check every link's final state.
  for (const { target, name } of symlinks) {
    const stats = await lstat(target).catch(() => undefined);
    if (stats?.isSymbolicLink())
      await assertLinkInside(realRoot, path.dirname(target), await readlink(target), name);
  }
  return { files, bytes: total };
}

/** Most symlinks followed while resolving one link target. */
const MAX_LINK_HOPS = 40;

/**
 * Throws UnsafeArchiveError unless the relative link `linkname`, placed in directory `fromDir`, resolves inside
 * `realRoot`, following symlinks on disk step by step as the kernel would (so `s/..` through a link `s` is
 * judged where `s` really leads, not lexically).
 */
async function assertLinkInside(
  realRoot: string,
  fromDir: string,
  linkname: string,
  entry: string,
): Promise<void> {
  const refuse = (why: string) =>
    new UnsafeArchiveError(
      `refusing symlink ${JSON.stringify(entry)} -> ${JSON.stringify(linkname)}: ${why}`,
      entry,
    );
  if (linkname === "" || linkname.includes("\0")) throw refuse("its target is empty or contains a NUL byte");
  if (path.posix.isAbsolute(linkname)) throw refuse("its target is an absolute path");
  const hops = { count: 0 };
  const walk = async (start: string, relative: string): Promise<string> => {
    let current = start;
    for (const part of relative.split("/")) {
      if (part === "" || part === ".") continue;
      const next = part === ".." ? path.dirname(current) : path.join(current, part);
      if (!isWithin(realRoot, next)) throw refuse("it points outside the destination");
      const stats = part === ".." ? undefined : await lstat(next).catch(() => undefined);
      if (stats?.isSymbolicLink()) {
        if (++hops.count > MAX_LINK_HOPS) throw refuse("too many levels of symbolic links");
        const inner = await readlink(next);
        if (path.posix.isAbsolute(inner)) throw refuse("it leads through an absolute symlink");
        current = await walk(current, inner);
      } else {
        current = next;
      }
    }
    return current;
  };
  await walk(await realpath(fromDir), linkname);
}

function isFileType(typeflag: string): boolean {
  return typeflag === "0" || typeflag === "\0" || typeflag === "7";
}

/** The entry's path made relative and normalised; throws for absolute paths, `..`, NUL or backslash tricks. */
function safeRelativePath(name: string, entry: string = name): string {
  const refuse = (why: string) =>
    new UnsafeArchiveError(`refusing archive entry ${JSON.stringify(name)}: ${why}`, entry);
  if (name.includes("\0")) throw refuse("it contains a NUL byte");
  if (name.startsWith("/") || /^[A-Za-z]:[\\/]/.test(name)) throw refuse("it is an absolute path");
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw refuse("it climbs out of the destination with ..");
  if (parts.some((part) => part.includes("\\"))) throw refuse("it contains a backslash");
  return parts.join("/");
}

async function assertInside(root: string, target: string, entry: string): Promise<void> {
  try {
    await assertRealPathInside(root, target);
  } catch (error) {
    throw new UnsafeArchiveError(
      `refusing archive entry ${JSON.stringify(entry)}: ${(error as Error).message}`,
      entry,
    );
  }
}

async function ensureParent(root: string, target: string, entry: string): Promise<void> {
  const parent = path.dirname(target);
  await assertInside(root, parent, entry);
  await mkdir(parent, { recursive: true, mode: 0o755 });
  await assertInside(root, parent, entry);
}

/** Removes whatever is at `target` (a file or symlink from an earlier entry) so the new entry replaces it. */
async function removeExisting(root: string, target: string, entry: string): Promise<void> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing === undefined) return;
  if (existing.isDirectory()) {
    throw new UnsafeArchiveError(
      `refusing archive entry ${JSON.stringify(entry)}: a directory of the same name was extracted before it`,
      entry,
    );
  }
  if (!isWithin(root, target))
    throw new UnsafeArchiveError(`refusing archive entry ${JSON.stringify(entry)}`, entry);
  await rm(target, { force: true });
}

async function writeFile(
  reader: ByteReader,
  target: string,
  size: number,
  mode: number,
  signal?: AbortSignal,
): Promise<void> {
  const fileMode = (mode & 0o100) !== 0 ? 0o755 : 0o644;
  const handle = await open(
    target,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    fileMode,
  );
  try {
    let remaining = size;
    while (remaining > 0) {
      signal?.throwIfAborted();
      const chunk = await reader.readSome(remaining);
      await handle.write(chunk);
      remaining -= chunk.length;
    }
    await handle.chmod(fileMode);
  } finally {
    await handle.close();
  }
}
