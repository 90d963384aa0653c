/**
 * The restart journal's on-disk format: two slot files written in turn, in place, each one header line and a
 * JSON body. A write goes to the slot that does not hold the newest state, so a write cut short (kill -9 in
 * the middle of a multi-page write, a power loss) can only spoil that slot; the other still holds the state
 * before it. At startup the valid slot with the highest sequence number wins.
 *
 *   runner-journal 2 <seq> <body bytes> <sha256 of the body, hex>\n<body>
 *
 * Bytes after the body (left by a longer earlier write) are ignored. No file is created, renamed or removed
 * per write: on this project's VMs creating a file costs 0.25–1 ms of kernel time, a write in place ~20 µs.
 */
import { createHash } from "node:crypto";

/** The first word of a slot's header. */
const MAGIC = "runner-journal";
/** The format version in the header. */
const FORMAT = 2;

/** What a slot holds once read. */
export interface SlotContent {
  seq: number;
  body: string;
}

/** Encodes `body` as slot content with sequence number `seq`. */
export function encodeSlot(seq: number, body: string): Buffer {
  const bytes = Buffer.from(body, "utf8");
  const digest = createHash("sha256").update(bytes).digest("hex");
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
  const digest = createHash("sha256").update(body).digest("hex");
  if (digest !== parts[4]) return { kind: "spoiled", reason: "the body does not match its checksum" };
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
