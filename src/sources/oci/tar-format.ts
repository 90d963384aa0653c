/**
 * The tar format, byte level (POSIX ustar with PAX extended headers, plus reading GNU long names): building
 * one entry's header blocks, and decoding a header block. Pure functions over Buffers; the packer
 * (artifact.ts) and the safe extractor (tar-extract.ts) do the I/O.
 */

/** Tar block size in bytes. */
export const BLOCK_BYTES = 512;

/** Entry kinds this project writes. */
export type TarWriteType = "file" | "directory" | "symlink";

/** What goes into one written header. */
export interface TarHeaderInput {
  /** Path inside the archive, `/`-separated, no leading `/`; directories without the trailing `/`. */
  path: string;
  type: TarWriteType;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  /** Content length in bytes (files only; 0 otherwise). */
  size: number;
  /** Symlink target. */
  linkname?: string;
  /** Modification time in seconds since the epoch. */
  mtimeSeconds: number;
}

const TYPE_FLAG: Record<TarWriteType, string> = { file: "0", directory: "5", symlink: "2" };
/** Largest size an octal ustar size field holds (11 digits). */
const MAX_OCTAL_SIZE = 0o77777777777;

/** The header block(s) of one entry: a PAX `x` header first when the path, link or size do not fit ustar. */
export function encodeHeader(input: TarHeaderInput): Buffer {
  const name = input.type === "directory" ? `${input.path}/` : input.path;
  const pax: Record<string, string> = {};
  const split = splitUstarPath(name);
  if (split === undefined) pax.path = name;
  const linkname = input.linkname ?? "";
  if (Buffer.byteLength(linkname) > 100) pax.linkpath = linkname;
  if (input.size > MAX_OCTAL_SIZE) pax.size = String(input.size);
  const main = ustarBlock({
    name: split?.name ?? truncateUtf8(name, 100),
    prefix: split?.prefix ?? "",
    typeflag: TYPE_FLAG[input.type],
    mode: input.mode,
    size: input.size > MAX_OCTAL_SIZE ? 0 : input.size,
    linkname: Buffer.byteLength(linkname) > 100 ? truncateUtf8(linkname, 100) : linkname,
    mtimeSeconds: input.mtimeSeconds,
  });
  if (Object.keys(pax).length === 0) return main;
  const records = encodePaxRecords(pax);
  const paxHeader = ustarBlock({
    name: truncateUtf8(`PaxHeaders/${name}`, 100),
    prefix: "",
    typeflag: "x",
    mode: 0o644,
    size: records.length,
    linkname: "",
    mtimeSeconds: input.mtimeSeconds,
  });
  return Buffer.concat([paxHeader, records, Buffer.alloc(paddingFor(records.length)), main]);
}

/** Zero bytes needed after `size` bytes of content to reach a block boundary. */
export function paddingFor(size: number): number {
  const rest = size % BLOCK_BYTES;
  return rest === 0 ? 0 : BLOCK_BYTES - rest;
}

/** The two zero blocks that end an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK_BYTES * 2);
}

/** PAX records: `"<len> key=value\n"` where len counts the whole record, sorted by key for reproducibility. */
export function encodePaxRecords(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(fields).sort()) {
    const body = ` ${key}=${fields[key]}\n`;
    const bodyBytes = Buffer.byteLength(body);
    let length = bodyBytes + String(bodyBytes).length;
    if (String(length).length + bodyBytes !== length) length = bodyBytes + String(length).length;
    parts.push(Buffer.from(`${length}${body}`));
  }
  return Buffer.concat(parts);
}

/** Parses PAX records; malformed records throw. */
export function decodePaxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break;
    const space = data.indexOf(0x20, offset);
    const length = Number(data.subarray(offset, space).toString("ascii"));
    if (space < 0 || !Number.isInteger(length) || length <= 0 || offset + length > data.length) {
      throw new Error("malformed PAX extended header");
    }
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals < 0) throw new Error("malformed PAX extended header record");
    out[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return out;
}

/** A decoded header block. */
export interface DecodedHeader {
  /** Full name (prefix joined), as stored. */
  name: string;
  mode: number;
  size: number;
  /** The raw type flag character ("0", "5", "2", "1", "x", "L", …; "\0" is an old-style file). */
  typeflag: string;
  linkname: string;
}

/** Decodes one header block; undefined for an all-zero block; throws on a bad checksum. */
export function decodeHeader(block: Buffer): DecodedHeader | undefined {
  if (block.every((byte) => byte === 0)) return undefined;
  const stored = parseOctal(block.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK_BYTES; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (stored !== sum) throw new Error("tar header checksum mismatch (corrupt or not a tar archive)");
  const magic = block.subarray(257, 263).toString("latin1");
  const name = cString(block.subarray(0, 100));
  const prefix = magic.startsWith("ustar") ? cString(block.subarray(345, 500)) : "";
  return {
    name: prefix === "" || magic === "ustar  \0" ? name : `${prefix}/${name}`,
    mode: parseOctal(block.subarray(100, 108)),
    size: parseNumeric(block.subarray(124, 136)),
    typeflag: String.fromCharCode(block[156] as number),
    linkname: cString(block.subarray(157, 257)),
  };
}

interface UstarFields {
  name: string;
  prefix: string;
  typeflag: string;
  mode: number;
  size: number;
  linkname: string;
  mtimeSeconds: number;
}

function ustarBlock(fields: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK_BYTES);
  block.write(fields.name, 0, 100, "utf8");
  writeOctal(block, 100, 8, fields.mode & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtimeSeconds);
  block.write(fields.typeflag, 156, 1, "latin1");
  block.write(fields.linkname, 157, 100, "utf8");
  block.write("ustar\u000000", 257, 8, "latin1");
  block.write(fields.prefix, 345, 155, "utf8");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "latin1");
}

/** Splits a path into ustar prefix (≤155 bytes) and name (≤100 bytes) at a `/`; undefined when impossible. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (!/^[\x20-\x7e]*$/.test(path)) return undefined; // non-ASCII goes to PAX (UTF-8 by definition)
  if (path.length <= 100) return { prefix: "", name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/" || i === path.length - 1) continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
    if (name.length > 100) return undefined;
  }
  return undefined;
}

function truncateUtf8(value: string, maxBytes: number): string {
  let out = value;
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}

function parseOctal(bytes: Buffer): number {
  const text = cString(bytes).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`bad octal field ${JSON.stringify(text)} in tar header`);
  return Number.parseInt(text, 8);
}

/** Octal, or GNU base-256 (high bit set) for large sizes. */
function parseNumeric(bytes: Buffer): number {
  if (((bytes[0] as number) & 0x80) === 0) return parseOctal(bytes);
  let value = (bytes[0] as number) & 0x7f;
  for (let i = 1; i < bytes.length; i++) value = value * 256 + (bytes[i] as number);
  if (!Number.isSafeInteger(value)) throw new Error("tar entry size too large");
  return value;
}
