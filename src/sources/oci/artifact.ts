/**
 * Artifacts as tar.gz layers. `packDirectory` turns a directory into a reproducible tar.gz: entries sorted by
 * path (bytes), every mtime fixed, uid/gid 0 with no names, modes normalised to 0755 (directories and
 * executables) or 0644, symlinks kept only when they stay inside the directory, gzip at level 9 with a fixed
 * header (no name, mtime 0, OS "unknown"); the same tree therefore yields the same digest whatever the file
 * order on disk or the files' times. `unpackArchiveFile` extracts a tar or tar.gz safely (tar-extract.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, open, readdir, readlink, realpath } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { isWithin } from "../../workspace/safe-path.ts";
import { type ExtractTarOptions, type ExtractTarResult, extractTar } from "./tar-extract.ts";
import { BLOCK_BYTES, encodeHeader, endOfArchive, paddingFor } from "./tar-format.ts";

/** Modification time written for every entry: 1980-01-01T00:00:00Z, in seconds (older confuses zip-era tools). */
export const REPRODUCIBLE_MTIME_SECONDS = 315_532_800;

/** A directory refused packing (an unsupported file type, or a symlink leading outside it). */
export class PackError extends Error {
  override readonly name = "PackError";
}

/** Options of packDirectory. */
export interface PackDirectoryOptions {
  /** Directory to pack; its contents become the archive's top level (or go under `prefix`). */
  dir: string;
  /** Where to write the tar.gz. */
  outFile: string;
  /** Directory every entry is placed under inside the archive (e.g. a chart's name); default none. */
  prefix?: string;
  /** Leaves out a path (relative, `/`-separated) and, for a directory, all below it; default: `.git` directories. */
  ignore?: (relativePath: string, isDirectory: boolean) => boolean;
  signal?: AbortSignal;
}

/** What packDirectory wrote. */
export interface PackResult {
  /** sha256 digest of the tar.gz (the layer digest). */
  digest: string;
  /** Size of the tar.gz in bytes. */
  size: number;
  /** sha256 digest of the uncompressed tar (an image layer's diff ID). */
  diffId: string;
  /** Relative paths of the regular files packed, sorted. */
  files: string[];
}

/** The default ignore rule: any `.git` directory or file (a checkout's metadata is not part of a source). */
export function ignoreGitMetadata(relativePath: string): boolean {
  return relativePath.split("/").includes(".git");
}

interface WalkEntry {
  relative: string;
  absolute: string;
  type: "file" | "directory" | "symlink";
  mode: number;
  size: number;
  linkname?: string;
}

/** Packs `dir` into a reproducible tar.gz at `outFile` (see the module comment). */
export async function packDirectory(options: PackDirectoryOptions): Promise<PackResult> {
  const root = path.resolve(options.dir);
  const ignore = options.ignore ?? ignoreGitMetadata;
  const entries = await walk(root, await realpath(root), "", ignore, options.signal);
  const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
  const tarHash = createHash("sha256");
  const gzHash = createHash("sha256");
  let gzSize = 0;

  async function* tarChunks(): AsyncGenerator<Buffer> {
    const emit = (chunk: Buffer): Buffer => {
      tarHash.update(chunk);
      return chunk;
    };
    if (prefix !== "")
      yield emit(
        encodeHeader({
          path: prefix,
          type: "directory",
          mode: 0o755,
          size: 0,
          mtimeSeconds: REPRODUCIBLE_MTIME_SECONDS,
        }),
      );
    for (const entry of entries) {
      options.signal?.throwIfAborted();
      const entryPath = prefix === "" ? entry.relative : `${prefix}/${entry.relative}`;
      yield emit(
        encodeHeader({
          path: entryPath,
          type: entry.type,
          mode: entry.mode,
          size: entry.size,
          ...(entry.linkname === undefined ? {} : { linkname: entry.linkname }),
          mtimeSeconds: REPRODUCIBLE_MTIME_SECONDS,
        }),
      );
      if (entry.type !== "file" || entry.size === 0) continue;
      let written = 0;
      for await (const chunk of createReadStream(entry.absolute, { end: entry.size - 1 })) {
        const bytes = chunk as Buffer;
        written += bytes.length;
        yield emit(bytes);
      }
      if (written !== entry.size)
        throw new PackError(`${entry.relative} changed size while being packed; nothing was pushed`);
      const padding = paddingFor(entry.size);
      if (padding > 0) yield emit(Buffer.alloc(padding));
    }
    yield emit(endOfArchive());
  }

  let gzOffset = 0;
  const fixGzipHeader = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      // Byte 9 of the gzip header is the OS; zlib writes the build platform's. Make it 255 ("unknown").
      if (gzOffset <= 9 && gzOffset + chunk.length > 9) chunk[9 - gzOffset] = 0xff;
      gzOffset += chunk.length;
      gzHash.update(chunk);
      gzSize += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.from(tarChunks()),
    createGzip({ level: 9 }),
    fixGzipHeader,
    createWriteStream(options.outFile, { mode: 0o600 }),
    ...(options.signal ? [{ signal: options.signal }] : []),
  );
  return {
    digest: `sha256:${gzHash.digest("hex")}`,
    size: gzSize,
    diffId: `sha256:${tarHash.digest("hex")}`,
    files: entries.filter((entry) => entry.type === "file").map((entry) => entry.relative),
  };
}

/** Lists `dir` recursively in sorted order (see PackError for what is refused). */
async function walk(
  root: string,
  realRoot: string,
  relativeDir: string,
  ignore: (relativePath: string, isDirectory: boolean) => boolean,
  signal: AbortSignal | undefined,
): Promise<WalkEntry[]> {
  signal?.throwIfAborted();
  const absoluteDir = relativeDir === "" ? root : path.join(root, relativeDir);
  const names = (await readdir(absoluteDir)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: WalkEntry[] = [];
  for (const name of names) {
    const relative = relativeDir === "" ? name : `${relativeDir}/${name}`;
    const absolute = path.join(absoluteDir, name);
    const stats = await lstat(absolute);
    if (ignore(relative, stats.isDirectory())) continue;
    if (stats.isDirectory()) {
      out.push({ relative, absolute, type: "directory", mode: 0o755, size: 0 });
      out.push(...(await walk(root, realRoot, relative, ignore, signal)));
    } else if (stats.isFile()) {
      out.push({
        relative,
        absolute,
        type: "file",
        mode: (stats.mode & 0o100) !== 0 ? 0o755 : 0o644,
        size: stats.size,
      });
    } else if (stats.isSymbolicLink()) {
      const linkname = await readlink(absolute);
      const resolved = await realpath(absolute).catch(() => undefined);
      if (path.isAbsolute(linkname) || resolved === undefined || !isWithin(realRoot, resolved)) {
        throw new PackError(
          `cannot pack symlink ${relative} -> ${linkname}: it is absolute, dangling or leads outside ${root}; replace it with the file it points to`,
        );
      }
      out.push({ relative, absolute, type: "symlink", mode: 0o777, size: 0, linkname });
    } else {
      throw new PackError(`cannot pack ${relative}: only files, directories and symlinks can be packed`);
    }
  }
  return out;
}

/** Options of unpackArchiveFile. */
export type UnpackOptions = ExtractTarOptions;

/** Extracts the tar or tar.gz (detected by its magic bytes) at `file` into the existing `destDir`, safely. */
export async function unpackArchiveFile(
  file: string,
  destDir: string,
  options: UnpackOptions = {},
): Promise<ExtractTarResult> {
  const magic = Buffer.alloc(2);
  const handle = await open(file, "r");
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file, { highWaterMark: 16 * BLOCK_BYTES * 8 });
  const gzipped = magic[0] === 0x1f && magic[1] === 0x8b;
  const source = gzipped ? raw.pipe(createGunzip()) : raw;
  if (gzipped) raw.on("error", (error) => source.destroy(error));
  try {
    return await extractTar(source, destDir, options);
  } finally {
    source.destroy();
    raw.destroy();
  }
}
