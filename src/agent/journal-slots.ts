/**
 * The restart journal's on-disk format: two slot files written in turn, in place, each one header line and a
 * JSON body. A write goes to the slot that does not hold the newest state, so a write cut short (kill -9 in
 * the middle of a multi-page write, a power loss) can only spoil that slot; the other still holds the state
 * before it. At startup the valid slot with the highest sequence number wins.
 *
 *   runner-journal 2 <seq> <body bytes> <CRC-32 of the body, 8 hex digits>\n<body>
 *
 * Bytes after the body (left by a longer earlier write) are ignored. No file is created, renamed or removed
 * per write: on this project's VMs creating a file costs 0.25–1 ms of kernel time, a write in place ~20 µs.
 * The checksum only detects torn writes (no adversary writes the state directory), so CRC-32 in plain
 * JavaScript: node:crypto would initialise OpenSSL in an idle runner for it (~2 MB of RSS).
 */

/** The first word of a slot's header. */
const MAGIC = "runner-journal";
/** The format version in the header. */
const FORMAT = 2;

/** What a slot holds once read. */
export interface SlotContent {
  seq: number;
  body: string;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib's) of `bytes`, as 8 lower-case hex digits. */
export function crc32Hex(bytes: Uint8Array): string {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

/** Encodes `body` as slot content with sequence number `seq`. */
export function encodeSlot(seq: number, body: string): Buffer {
  const bytes = Buffer.from(body, "utf8");
  const digest = crc32Hex(bytes);
  const header = Buffer.from(`${MAGIC} ${FORMAT} ${seq} ${bytes.length} ${digest}\n`, "latin1");
  return Buffer.concat([header, bytes]);
}

/** How a slot file reads: valid, empty (never written, or emptied by a crash), or spoiled (why). */
export type SlotRead =
  | { kind: "valid"; content: SlotContent }
  | { kind: "empty" }
  | { kind: "spoiled"; reason: string };

/** Decodes a slot file's bytes. */
export function decodeSlot(data: Buffer): SlotRead {
  if (data.length === 0 || data.every((b) => b === 0)) return { kind: "empty" };
  const newline = data.indexOf(0x0a);
  if (newline === -1) return { kind: "spoiled", reason: "no header line" };
  const parts = data.subarray(0, newline).toString("latin1").split(" ");
  if (parts.length !== 5 || parts[0] !== MAGIC) return { kind: "spoiled", reason: "not a journal slot" };
  if (parts[1] !== String(FORMAT)) return { kind: "spoiled", reason: `format ${parts[1]} is not ${FORMAT}` };
  const seq = Number(parts[2]);
  const length = Number(parts[3]);
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(length) || length < 0) {
    return { kind: "spoiled", reason: "a malformed header" };
  }
  const body = data.subarray(newline + 1, newline + 1 + length);
  if (body.length !== length) return { kind: "spoiled", reason: "the body is cut short" };
  if (crc32Hex(body) !== parts[4]) return { kind: "spoiled", reason: "the body does not match its checksum" };
  return { kind: "valid", content: { seq, body: body.toString("utf8") } };
}

/** The newest valid slot of two reads, and which one it is; undefined when neither is valid. */
export function newestSlot(reads: readonly SlotRead[]): { index: number; content: SlotContent } | undefined {
  let best: { index: number; content: SlotContent } | undefined;
  reads.forEach((read, index) => {
    if (read.kind !== "valid") return;
    if (best === undefined || read.content.seq > best.content.seq) best = { index, content: read.content };
  });
  return best;
}
