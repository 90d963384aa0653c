/**
 * The header every spool segment file starts with, so that a job's spool is one file in the common case (no
 * `meta.json`, no `ack` file). It is itself a frame (frames.ts: a 4-byte little-endian length, then the body),
 * so anything walking a segment's frames steps over it; its body is:
 *
 *   "RSPL" | the last acknowledged sequence number, 20 ASCII digits | "\n" | the spool's meta as JSON
 *
 * The acknowledged number sits at a fixed offset (ACK_OFFSET) and is rewritten in place with one 21-byte
 * pwrite, which a crash cannot tear (it never crosses a sector). A record frame's body starts with the time
 * field's tag (0x09), never with "R", so a segment without a header (written by an older runner, or converted
 * from NDJSON by spool-legacy.ts) is told apart by its first bytes.
 */
import { FRAME_HEADER_BYTES } from "./frames.ts";

const MAGIC = Buffer.from("RSPL");

/** Byte offset of the acknowledged sequence number in a segment file. */
export const ACK_OFFSET = FRAME_HEADER_BYTES + MAGIC.length;

/** Bytes of the acknowledged sequence number as stored: 20 digits and a newline. */
export const ACK_BYTES = 21;

/** Bytes read from a segment's start to find its header (64 KiB: a meta is a few hundred bytes). */
export const HEADER_READ_BYTES = 64 * 1024;

/** The acknowledged sequence number as stored (fixed width, so a rewrite replaces it whole). */
export function encodeAck(seq: number): Buffer {
  return Buffer.from(`${String(seq).padStart(20, "0")}\n`, "latin1");
}

/** Reads a stored acknowledged sequence number; 0 when it is not one (unreadable means "resend", never a loss). */
export function decodeAck(text: string): number {
  const trimmed = text.trim();
  return /^\d{1,20}$/.test(trimmed) ? Number(trimmed) : 0;
}

/** Encodes a segment header: the spool's meta (any JSON-serialisable object) and the current ack. */
export function encodeSegmentHeader(meta: object, ackSeq: number): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const bodyBytes = MAGIC.length + ACK_BYTES + json.length;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  out.writeUInt32LE(bodyBytes, 0);
  out.set(MAGIC, FRAME_HEADER_BYTES);
  out.write(`${String(ackSeq).padStart(20, "0")}\n`, ACK_OFFSET, "latin1");
  out.set(json, ACK_OFFSET + ACK_BYTES);
  return out;
}

/** What the start of a segment file says about its header. */
export type SegmentHeader =
  /** No header: frames start at byte 0. */
  | { kind: "none" }
  /** A header of `bytes` bytes (frames follow it), with the ack it holds and the meta (unparsed JSON value). */
  | { kind: "header"; bytes: number; ackSeq: number; meta: unknown }
  /** A header cut short or unreadable (a crash while the file was created): nothing in the file can be read. */
  | { kind: "damaged" };

/** Reads the header from the first bytes of a segment file (`start`: at least HEADER_READ_BYTES or the file). */
export function parseSegmentHeader(start: Buffer): SegmentHeader {
  if (start.length < FRAME_HEADER_BYTES + 1)
    return start.length === 0 ? { kind: "none" } : { kind: "damaged" };
  if (start[FRAME_HEADER_BYTES] !== MAGIC[0]) return { kind: "none" };
  const bodyBytes = start.readUInt32LE(0);
  const bytes = FRAME_HEADER_BYTES + bodyBytes;
  if (bodyBytes < MAGIC.length + ACK_BYTES || bytes > start.length) return { kind: "damaged" };
  if (!start.subarray(FRAME_HEADER_BYTES, ACK_OFFSET).equals(MAGIC)) return { kind: "damaged" };
  try {
    const ackSeq = decodeAck(start.toString("latin1", ACK_OFFSET, ACK_OFFSET + ACK_BYTES));
    const meta: unknown = JSON.parse(start.toString("utf8", ACK_OFFSET + ACK_BYTES, bytes));
    return { kind: "header", bytes, ackSeq, meta };
  } catch {
    return { kind: "damaged" };
  }
}
