/**
 * The durable log spool of one execution: `<stateDir>/spool/<executionId>/` holds segment files
 * `<firstSeq>.seg` of record frames (frames.ts: each record already encoded as the OTLP LogRecord it is shipped
 * as; append-only, rolled every `segmentBytes`, the n-th record frame of a segment is sequence number
 * firstSeq + n) and `<fromSeq>.gap` files describing dropped ranges. Each segment starts with a header frame
 * (spool-header.ts) holding the execution (the spool's meta) and the last acknowledged sequence number, rewritten
 * in place; so a job's spool is one directory and one file, and costs a handful of system calls: nothing until
 * the first record is written (a job that logs nothing leaves nothing on disk), then mkdir and open (or, with a
 * pool, the rename of a done spool's directory: spool-pool.ts), the writes, one pwrite per acknowledged batch, and
 * at the end a truncate and rename back to the pool (or an unlink and rmdir off the main thread). Being sealed
 * is not persisted: a spool found on disk is sealed (no process writes to it any more). An `ack` file holds the
 * ack only when no segment can (its segment was deleted while drop markers remain), and `meta.json` only in spools
 * an older runner wrote; both are read back.
 *
 * Appends are encoded into one in-memory buffer for at most `writeDelayMs` (or until `maxPendingBytes`), then
 * written synchronously, so memory stays bounded whatever a job writes and a record is on disk before the
 * shipper can hand it out; the reader streams frames from disk after the ack (no parsing: the shipper copies them
 * into the request) and never loads a file whole; acknowledged segments are deleted. NDJSON `.log` segments a
 * previous version left are converted when the spool is opened (spool-legacy.ts).
 *
 * The cap (`maxBytes` of unacknowledged records on disk): past it, the spool keeps the head (the oldest
 * unshipped records, up to half the cap) and a ring of the newest records, evicting whole segments between
 * them into ONE gap that grows (`… N records (X MB) dropped …`, with the dropped sequence range). Records are
 * never renumbered, so a receiver checks completeness by sequence: lost = gaps not explained by a marker.
 * A gap already handed to the shipper is never grown; a later overflow then starts a second, adjacent gap.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rm,
  rmdir,
  rmSync,
  truncateSync,
  unlink,
  unlinkSync,
  writeFileSync,
  writeSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import * as z from "zod/mini";
import {
  type BatchPart,
  decodeFrame,
  FRAME_HEADER_BYTES,
  FrameWriter,
  isGapPart,
  walkFrames,
} from "./frames.ts";
import type {
  FieldValue,
  LogLevel,
  SpoolGap,
  SpoolItem,
  SpoolRecord,
  StreamContext,
} from "./otlp-records.ts";
import {
  ACK_BYTES,
  ACK_OFFSET,
  decodeAck,
  encodeAck,
  encodeSegmentHeader,
  HEADER_READ_BYTES,
  parseSegmentHeader,
} from "./spool-header.ts";
import { migrateLegacySegments } from "./spool-legacy.ts";
import type { SpoolDirPool } from "./spool-pool.ts";

/** Defaults of the spool. */
export const SPOOL_DEFAULTS = {
  /** Unacknowledged bytes kept on disk per execution (config `logSpoolMaxBytes`): 100 MiB. */
  maxBytes: 100 * 1024 ** 2,
  /** Appends wait at most this long in memory before they are written, in ms. */
  writeDelayMs: 5,
  /** Appends are written at once when this many bytes wait (1 MiB). */
  maxPendingBytes: 1024 ** 2,
  /** A segment is a sixteenth of the cap, at least 4 KiB. */
  segmentsPerCap: 16,
  minSegmentBytes: 4096,
} as const;

/** What the spool remembers about its execution (in every segment's header). */
export const SpoolMeta = z.object({
  jobId: z.string(),
  jobType: z.string(),
  logStreamId: z.string(),
  executionId: z.string(),
  /** False when `enable_logging` was off: the spool is kept locally and never shipped. */
  ship: z.boolean(),
  createdAtMs: z.number(),
});
export type SpoolMeta = z.infer<typeof SpoolMeta>;

const GapFile = z.object({
  fromSeq: z.number().check(z.int()),
  toSeq: z.number().check(z.int()),
  records: z.number().check(z.int()),
  bytes: z.number().check(z.int()),
  time: z.number(),
});

/** Options of a spool. */
export interface SpoolOptions {
  /** Default SPOOL_DEFAULTS.maxBytes (100 MiB). */
  maxBytes?: number;
  /** Default max(4 KiB, maxBytes / 16). */
  segmentBytes?: number;
  /** Default 5 ms. */
  writeDelayMs?: number;
  /** Default 1 MiB. */
  maxPendingBytes?: number;
  /** Called when a write fails (the records are then dropped into a gap). */
  onError?: (err: unknown) => void;
  /** Where a done spool's directory goes for reuse, and where a new spool takes one (spool-pool.ts); default
   * none: directories are made and deleted. */
  pool?: SpoolDirPool;
}

/** Counters of one spool. */
export interface SpoolStats {
  /** Records appended (= the last sequence number). */
  records: number;
  /** Bytes appended in total. */
  bytes: number;
  /** Unacknowledged bytes on disk. */
  onDiskBytes: number;
  droppedRecords: number;
  droppedBytes: number;
}

/** One batch handed out by `read`, decoded (tests, tools). */
export interface SpoolBatch {
  items: SpoolItem[];
  /** The sequence number to acknowledge once the batch is delivered (everything handed out so far). */
  lastSeq: number;
  /** Spool bytes of the batch. */
  bytes: number;
}

/** One batch handed out by `readFrames`: runs of frames and drop markers; valid until the next read. */
export interface FrameBatch {
  parts: BatchPart[];
  /** Records in the frames (drop markers not counted). */
  records: number;
  /** Records and drop markers. */
  items: number;
  /** The sequence number to acknowledge once the batch is delivered (everything handed out so far). */
  lastSeq: number;
  /** Spool bytes of the batch. */
  bytes: number;
}

/**
 * A segment: `bytes` of record frames after a header of `base` bytes (0 when it has none). `created`: its file
 * was made (segments are created on their first write).
 */
type Segment = {
  kind: "segment";
  firstSeq: number;
  lastSeq: number;
  bytes: number;
  base: number;
  created: boolean;
  path: string;
};
type Gap = SpoolGap & { kind: "gap"; path: string };
type Entry = Segment | Gap;

const READ_CHUNK_BYTES = 64 * 1024;
const SPOOL_FILE = /^(\d{12})\.(seg|gap|log)$/;

/** `<stateDir>/spool`, the parent of every execution's spool. */
export function spoolRoot(stateDir: string): string {
  return join(stateDir, "spool");
}

/** `<stateDir>/spool/<executionId>` (an id that is not a safe file name is hex-encoded). */
export function spoolDir(stateDir: string, executionId: string): string {
  const safe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(executionId)
    ? executionId
    : `x${Buffer.from(executionId).toString("hex").slice(0, 200)}`;
  return join(spoolRoot(stateDir), safe);
}

const pad = (seq: number) => String(seq).padStart(12, "0");

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Writes `chunks` whole at `position` (one writev; a short write, which only an error causes, is completed). */
function writeAllAt(fd: number, chunks: Buffer[], position: number): void {
  let total = 0;
  for (const c of chunks) total += c.length;
  const written = writevSync(fd, chunks, position);
  if (written >= total) return;
  const rest = Buffer.concat(chunks).subarray(written);
  for (let done = 0; done < rest.length; )
    done += writeSync(fd, rest, done, rest.length - done, position + written + done);
}

/** The first bytes of a segment file and its size. */
function readSegmentStart(path: string): { start: Buffer; size: number } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const start = Buffer.allocUnsafe(Math.min(size, HEADER_READ_BYTES));
    const n = start.length === 0 ? 0 : readSync(fd, start, 0, start.length, 0);
    return { start: start.subarray(0, n), size };
  } finally {
    closeSync(fd);
  }
}

/** Deletes `paths`, then the directory, off the main thread; what else is in it goes with `rm -r`. */
function removeInBackground(
  dir: string,
  paths: string[],
  onError: ((err: unknown) => void) | undefined,
): void {
  const removeDir = () =>
    rmdir(dir, (err) => {
      if (err === null || err.code === "ENOENT") return;
      rm(dir, { recursive: true, force: true }, (e) => e && onError?.(e));
    });
  let left = paths.length;
  if (left === 0) {
    removeDir();
    return;
  }
  for (const path of paths) {
    unlink(path, (err) => {
      if (err !== null && err.code !== "ENOENT") onError?.(err);
      if (--left === 0) removeDir();
    });
  }
}

/** An error saying `dir` holds no spool (code ENOENT, as a missing file would). */
function noSpool(dir: string): Error {
  return Object.assign(new Error(`no log spool in ${dir}: no segment header and no meta.json`), {
    code: "ENOENT",
  });
}

/** The on-disk spool of one execution; see the module comment. Not safe to share between processes. */
export class Spool {
  /** The spool directory. */
  readonly dir: string;
  readonly meta: SpoolMeta;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #writeDelayMs: number;
  readonly #maxPendingBytes: number;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #pool: SpoolDirPool | undefined;
  /** Only ever one segment and nothing else (no roll, gap or `ack` file): the directory can be reused. */
  #simple = true;
  readonly #entries: Entry[] = [];
  readonly #listeners = new Set<() => void>();
  #active: Segment | undefined;
  /** Write descriptor of the active segment (opened on its first write). */
  #fd: number | undefined;
  #readFd: { fd: number; firstSeq: number } | undefined;
  /** The segment whose header holds the ack (the newest one made), and a read-write descriptor on it (which
   * also reads it: a short job's spool opens one file once). */
  #ackSeg: Segment | undefined;
  #ackFd: number | undefined;
  /** The `ack` file, used while no segment header can hold the ack. */
  #ackFileFd: number | undefined;
  #ackFileUsed = false;
  /** The directory exists (made on the first write, or found on disk). */
  #dirMade = false;
  /** Frames appended and not written yet (starts small: most jobs write a few lines; it doubles as needed). */
  readonly #pending = new FrameWriter(1024);
  #pendingCount = 0;
  /** Reused by every read: a batch's frames are read into it back to back. */
  #readBuf = Buffer.alloc(0);
  #readFill = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #flushNow = () => this.flushWrites();
  #lastSeq = 0;
  #ackedSeq = 0;
  #sealed = false;
  /** Set after a failed write: the next record starts a new segment. */
  #needRoll = false;
  #removed = false;
  /** Opened from disk (a previous process's spool) rather than created by this one. */
  #fromDisk = false;
  #cursor = { nextSeq: 1, segmentFirstSeq: -1, offset: 0 };
  #stats = { bytes: 0, onDiskBytes: 0, droppedRecords: 0, droppedBytes: 0 };

  private constructor(dir: string, meta: SpoolMeta, opts: SpoolOptions) {
    this.dir = dir;
    this.meta = meta;
    this.#maxBytes = opts.maxBytes ?? SPOOL_DEFAULTS.maxBytes;
    this.#segmentBytes =
      opts.segmentBytes ??
      Math.max(SPOOL_DEFAULTS.minSegmentBytes, Math.floor(this.#maxBytes / SPOOL_DEFAULTS.segmentsPerCap));
    this.#writeDelayMs = opts.writeDelayMs ?? SPOOL_DEFAULTS.writeDelayMs;
    this.#maxPendingBytes = opts.maxPendingBytes ?? SPOOL_DEFAULTS.maxPendingBytes;
    this.#onError = opts.onError;
    this.#pool = opts.pool;
  }

  /**
   * Creates a new, empty spool for an execution (throws when `dir` already holds one). Nothing is made on disk
   * until the first record is written.
   */
  static create(dir: string, context: StreamContext & { ship: boolean }, opts: SpoolOptions = {}): Spool {
    if (existsSync(dir) && readdirSync(dir).some((n) => SPOOL_FILE.test(n) || n === "meta.json")) {
      throw new Error(`a log spool already exists in ${dir}`);
    }
    const meta: SpoolMeta = {
      jobId: context.jobId,
      jobType: context.jobType,
      logStreamId: context.logStreamId,
      executionId: context.executionId,
      ship: context.ship,
      createdAtMs: Date.now(),
    };
    const spool = new Spool(dir, meta, opts);
    spool.#roll(1);
    return spool;
  }

  /**
   * Opens a spool a previous process left behind (after a crash or restart), sealed: a torn last frame is cut
   * off, acknowledged segments are deleted, and reading starts after the ack. Throws (code ENOENT) when the
   * directory holds no spool (made, then killed before its first record was written).
   */
  static open(dir: string, opts: SpoolOptions = {}): Spool {
    migrateLegacySegments(dir, opts.onError);
    const names = readdirSync(dir);
    const entries: Entry[] = [];
    let ackedSeq = 0;
    let meta: unknown;
    let ackSeg: Segment | undefined;
    if (names.includes("meta.json")) meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    if (names.includes("ack")) {
      try {
        ackedSeq = decodeAck(readFileSync(join(dir, "ack"), "latin1"));
      } catch {
        // unreadable: ship everything again rather than lose any
      }
    }
    for (const name of names) {
      const match = SPOOL_FILE.exec(name);
      if (match === null || match[2] === "log") continue;
      const path = join(dir, name);
      if (match[2] === "gap") {
        try {
          const gap = GapFile.parse(JSON.parse(readFileSync(path, "utf8")));
          entries.push({ kind: "gap", ...gap, path });
        } catch (err) {
          opts.onError?.(err);
        }
        continue;
      }
      const firstSeq = Number(match[1]);
      const { start, size } = readSegmentStart(path);
      const header = parseSegmentHeader(start);
      // A header cut short (a crash as the file was made): nothing in the file can be read.
      const base = header.kind === "header" ? header.bytes : header.kind === "damaged" ? size : 0;
      const seg: Segment = {
        kind: "segment",
        firstSeq,
        lastSeq: firstSeq - 1,
        bytes: size - base,
        base,
        created: true,
        path,
      };
      entries.push(seg);
      if (header.kind !== "header") continue;
      ackedSeq = Math.max(ackedSeq, header.ackSeq);
      meta ??= header.meta;
      if (ackSeg === undefined || firstSeq > ackSeg.firstSeq) ackSeg = seg;
    }
    if (meta === undefined) throw noSpool(dir);
    const spool = new Spool(dir, SpoolMeta.parse(meta), opts);
    spool.#fromDisk = true;
    spool.#dirMade = true;
    spool.#ackSeg = ackSeg;
    spool.#recover(entries, ackedSeq);
    return spool;
  }

  /** The last sequence number appended (0 when none). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The last sequence number acknowledged (0 when none). */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** True once no more records come (sealed by `seal()` or recovered). */
  get sealed(): boolean {
    return this.#sealed;
  }

  /** True when sealed and every record is acknowledged, or when the spool was removed. */
  get done(): boolean {
    return this.#removed || (this.#sealed && this.#ackedSeq >= this.#lastSeq);
  }

  /** Sequence numbers written to disk but not yet handed out by `read`. */
  get unread(): number {
    return Math.max(0, this.#lastSeq - this.#pendingCount - this.#cursor.nextSeq + 1);
  }

  /** Counters. */
  get stats(): SpoolStats {
    return { records: this.#lastSeq, ...this.#stats };
  }

  /** Calls `listener` after records reach disk, after an ack and on seal; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Appends a record (already redacted) and returns its sequence number; 0 once sealed. Never waits. */
  append(record: Omit<SpoolRecord, "seq">): number {
    return this.appendRecord(
      record.time,
      record.level,
      record.step,
      record.stream,
      record.msg,
      record.fields,
    );
  }

  /** `append` with the record's members as arguments (no record object on the hot path). */
  appendRecord(
    timeMs: number,
    level: LogLevel,
    step: string,
    stream: "stdout" | "stderr" | undefined,
    msg: string,
    fields?: Record<string, FieldValue>,
  ): number {
    if (this.#sealed) return 0;
    const seq = ++this.#lastSeq;
    this.#stats.bytes += this.#pending.record(seq, timeMs, level, step, stream, msg, fields);
    this.#pendingCount++;
    if (this.#pending.length >= this.#maxPendingBytes) this.flushWrites();
    else this.#timer ??= setTimeout(this.#flushNow, this.#writeDelayMs);
    return seq;
  }

  /** Writes the records waiting in memory to disk now. */
  flushWrites(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pendingCount === 0 || this.#removed) return;
    const buf = this.#pending.buffer;
    const end = this.#pending.length;
    let seq = this.#lastSeq - this.#pendingCount + 1;
    let from = 0;
    let count = 0;
    for (let pos = 0; pos < end; ) {
      const size = FRAME_HEADER_BYTES + buf.readUInt32LE(pos);
      const active = this.#active!;
      const chunkBytes = pos - from;
      const full = active.bytes + chunkBytes > 0 && active.bytes + chunkBytes + size > this.#segmentBytes;
      if (this.#needRoll || full) {
        this.#writeChunk(buf, from, pos, seq, count);
        seq += count;
        from = pos;
        count = 0;
        this.#roll(seq);
      }
      pos += size;
      count++;
    }
    this.#writeChunk(buf, from, end, seq, count);
    this.#pending.reset();
    this.#pendingCount = 0;
    this.#evictOverCap();
    this.#notify();
  }

  /**
   * Hands out the next records after the last one handed out, as frames: at most `maxItems` and about
   * `maxBytes` (at least one record). A gap is one item. Reads stream from disk into one reused buffer, so the
   * batch is valid until the next read.
   */
  readFrames(maxItems: number, maxBytes: number): FrameBatch {
    const batch: FrameBatch = { parts: [], records: 0, items: 0, lastSeq: 0, bytes: 0 };
    this.#readFill = 0;
    const items = () => itemsOf(batch);
    while (items() < maxItems && (batch.bytes < maxBytes || items() === 0)) {
      const next = this.#cursor.nextSeq;
      const entry = this.#entries.find((e) =>
        e.kind === "gap" ? e.fromSeq <= next && next <= e.toSeq : e.firstSeq <= next && next <= e.lastSeq,
      );
      if (entry === undefined) {
        // A hole no gap explains (a gap file that could not be read): step to what follows it.
        const later = this.#entries.find((e) => entryStart(e) > next && (e.kind === "gap" || e.bytes > 0));
        if (later === undefined) break;
        this.#cursor = { nextSeq: entryStart(later), segmentFirstSeq: -1, offset: 0 };
        continue;
      }
      if (entry.kind === "gap") {
        const { kind: _, path: __, ...gap } = entry;
        batch.parts.push(gap);
        batch.lastSeq = entry.toSeq;
        this.#cursor = { nextSeq: entry.toSeq + 1, segmentFirstSeq: -1, offset: 0 };
        continue;
      }
      if (!this.#readSegment(entry, batch, maxItems, maxBytes)) break;
    }
    // Acknowledging the batch also steps over records that could not be read.
    batch.lastSeq = Math.max(batch.lastSeq, this.#cursor.nextSeq - 1);
    batch.items = itemsOf(batch);
    return batch;
  }

  /** `readFrames`, decoded into records and gaps (tests and tools; the shipper sends the frames as they are). */
  read(maxItems: number, maxBytes: number): SpoolBatch {
    const batch = this.readFrames(maxItems, maxBytes);
    const items: SpoolItem[] = [];
    for (const part of batch.parts) {
      if (isGapPart(part)) items.push(part);
      else
        walkFrames(part.buf, part.start, part.end, part.count, Infinity, 0, (s, e) =>
          items.push(decodeFrame(part.buf, s, e)),
        );
    }
    return { items, lastSeq: batch.lastSeq, bytes: batch.bytes };
  }

  /** Moves the reader back to just after the ack (what was handed out but not acknowledged is read again). */
  rewind(): void {
    this.#cursor = { nextSeq: this.#ackedSeq + 1, segmentFirstSeq: -1, offset: 0 };
  }

  /**
   * Records that everything up to `seq` was delivered: persists the ack and deletes what it covers (once the
   * spool is done, `remove()` deletes the rest at once).
   */
  ack(seq: number): void {
    if (seq <= this.#ackedSeq || this.#removed) return;
    this.#ackedSeq = seq;
    this.#writeAck(seq);
    if (!this.done) this.#dropCovered();
    this.#notify();
  }

  /** Writes what waits and marks the spool complete (nothing is written for it on disk). Idempotent. */
  seal(): void {
    if (this.#sealed) return;
    this.flushWrites();
    this.#sealed = true;
    this.#active = undefined;
    // The descriptor stays open while its segment's header holds the ack and a shipper will acknowledge what
    // is left (remove() closes it); otherwise it is closed now.
    const keepForAck = this.meta.ship && this.#ackedSeq < this.#lastSeq;
    if (this.#fd !== undefined && (this.#fd !== this.#ackFd || !keepForAck)) {
      if (this.#fd === this.#ackFd) this.#ackFd = undefined;
      closeSync(this.#fd);
    }
    this.#fd = undefined;
    this.#notify();
  }

  /** Deletes the spool directory (after everything was shipped, or when nobody will ship it). */
  remove(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sealed = true;
    this.#removed = true;
    this.#active = undefined;
    const paths = this.#entries.filter((e) => e.kind === "gap" || e.created).map((e) => e.path);
    if (this.#ackFileUsed) paths.push(join(this.dir, "ack"));
    const recycled = !this.#fromDisk && this.#dirMade && this.#emptyForReuse();
    this.#entries.length = 0;
    this.#pending.reset();
    this.#pendingCount = 0;
    this.#closeAll();
    // A spool this process wrote goes to the pool for reuse, or is deleted in the background, off the job path
    // (a crash before the end leaves a done spool that the next start removes); one found at startup is
    // deleted at once.
    if (this.#fromDisk) rmSync(this.dir, { recursive: true, force: true });
    else if (this.#dirMade && !(recycled && this.#pool!.put(this.dir)))
      removeInBackground(this.dir, paths, this.#onError);
    this.#notify();
  }

  /** Empties the only segment of a simple spool so its directory can go to the pool; false when it cannot. */
  #emptyForReuse(): boolean {
    const only = this.#entries[0];
    if (this.#pool === undefined || !this.#simple || this.#entries.length !== 1) return false;
    if (only === undefined || only.kind !== "segment" || only.firstSeq !== 1 || !only.created) return false;
    try {
      const fd = this.#ackFd ?? this.#fd;
      if (fd !== undefined) ftruncateSync(fd, 0);
      else truncateSync(only.path, 0);
      return true;
    } catch {
      return false;
    }
  }

  #closeAll(): void {
    const fds = new Set([this.#fd, this.#ackFd, this.#readFd?.fd, this.#ackFileFd]);
    for (const fd of fds) {
      if (fd === undefined) continue;
      try {
        closeSync(fd);
      } catch (err) {
        this.#onError?.(err);
      }
    }
    this.#fd = undefined;
    this.#ackFd = undefined;
    this.#readFd = undefined;
    this.#ackFileFd = undefined;
  }

  /**
   * Persists the ack: one fixed-width pwrite (20 digits and a newline) into the header of the newest segment, or
   * at offset 0 of `ack` when no segment can hold it. A crash cannot tear it (a rename per batch costs
   * milliseconds on ext4). Unreadable means "resend": never a loss.
   */
  #writeAck(seq: number): void {
    try {
      const seg = this.#ackSeg;
      if (seg !== undefined) {
        this.#ackFd ??= openSync(seg.path, constants.O_RDWR);
        writeSync(this.#ackFd, encodeAck(seq), 0, ACK_BYTES, ACK_OFFSET);
        return;
      }
      this.#ackFileUsed = true;
      this.#simple = false;
      this.#ackFileFd ??= openSync(join(this.dir, "ack"), constants.O_WRONLY | constants.O_CREAT, 0o600);
      writeSync(this.#ackFileFd, encodeAck(seq), 0, ACK_BYTES, 0);
    } catch (err) {
      this.#onError?.(err);
    }
  }

  /** Deletes the entries the ack covers (never the active segment). */
  #dropCovered(): void {
    const seq = this.#ackedSeq;
    while (this.#entries.length > 0) {
      const e = this.#entries[0]!;
      const covered = e.kind === "gap" ? e.toSeq <= seq : e.lastSeq <= seq && e !== this.#active;
      if (!covered) break;
      this.#entries.shift();
      if (e.kind === "segment") this.#stats.onDiskBytes -= e.bytes;
      this.#unlink(e);
    }
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        this.#onError?.(err);
      }
    }
  }

  /** Deletes an entry's file (already taken out of the entries). */
  #unlink(entry: Entry): void {
    if (entry.kind === "segment") {
      if (this.#readFd !== undefined && this.#readFd.firstSeq === entry.firstSeq) {
        closeSync(this.#readFd.fd);
        this.#readFd = undefined;
      }
      if (entry === this.#ackSeg) {
        // Its header holds the ack: the ack moves to the `ack` file first, while other entries remain.
        if (this.#ackFd !== undefined && this.#ackFd !== this.#fd) closeSync(this.#ackFd);
        this.#ackFd = undefined;
        this.#ackSeg = undefined;
        if (this.#entries.length > 0 && this.#ackedSeq > 0) this.#writeAck(this.#ackedSeq);
      }
      if (!entry.created) return;
    }
    try {
      unlinkSync(entry.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.#onError?.(err);
    }
  }

  /** Starts a new active segment whose first record is `firstSeq`; its file is made on its first write. */
  #roll(firstSeq: number): void {
    if (this.#fd !== undefined) {
      if (this.#fd === this.#ackFd) this.#ackFd = undefined; // the next ack reopens it if need be
      closeSync(this.#fd);
    }
    this.#fd = undefined;
    this.#needRoll = false;
    if (firstSeq > 1) this.#simple = false;
    const path = join(this.dir, `${pad(firstSeq)}.seg`);
    this.#active = {
      kind: "segment",
      firstSeq,
      lastSeq: firstSeq - 1,
      bytes: 0,
      base: 0,
      created: false,
      path,
    };
    this.#entries.push(this.#active);
  }

  /** Writes the `count` frames in buf[from, to) (sequence numbers from `firstSeq`) to the active segment. */
  #writeChunk(buf: Buffer, from: number, to: number, firstSeq: number, count: number): void {
    if (count === 0) return;
    const active = this.#active!;
    const bytes = to - from;
    try {
      if (!active.created) this.#createActive(active, buf.subarray(from, to));
      else {
        const fd = this.#fd;
        if (fd === undefined) throw new Error(`the log spool segment ${active.path} is not open`);
        for (let done = 0; done < bytes; )
          done += writeSync(fd, buf, from + done, bytes - done, active.base + active.bytes + done);
      }
      active.bytes += bytes;
      active.lastSeq = firstSeq + count - 1;
      this.#stats.onDiskBytes += bytes;
    } catch (err) {
      this.#onError?.(err);
      try {
        if (this.#fd !== undefined) ftruncateSync(this.#fd, active.base + active.bytes);
      } catch {
        // the next segment starts clean either way
      }
      const toSeq = firstSeq + count - 1;
      this.#persistGap(
        this.#insertGap({ fromSeq: firstSeq, toSeq, records: count, bytes, time: Date.now() }, true),
      );
      this.#needRoll = true;
    }
  }

  /**
   * Makes the active segment's file (and the directory, the first time, or takes a free one from the pool with
   * its empty first segment): writes its header and first frames at once.
   */
  #createActive(active: Segment, frames: Buffer): void {
    active.created = true;
    if (!this.#dirMade && active.firstSeq === 1 && this.#pool?.take(this.dir) === true) {
      this.#dirMade = true;
      this.#fd = openSync(active.path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
    } else {
      if (!this.#dirMade) {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        this.#dirMade = true;
      }
      this.#fd = openSync(active.path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    }
    const header = encodeSegmentHeader(this.meta, this.#ackedSeq);
    writeAllAt(this.#fd, [header, frames], 0);
    active.base = header.length;
    // From now on acks are rewritten in this segment's header.
    if (this.#ackFd !== undefined && this.#ackFd !== this.#fd) closeSync(this.#ackFd);
    this.#ackSeg = active;
    this.#ackFd = this.#fd;
  }

  /** Evicts ring segments into the gap until the unacknowledged bytes fit the cap again. */
  #evictOverCap(): void {
    if (this.#stats.onDiskBytes <= this.#maxBytes) return;
    const changed = new Set<Gap>();
    while (this.#stats.onDiskBytes > this.#maxBytes) {
      const index = this.#evictionCandidate();
      if (index < 0) break;
      const seg = this.#entries[index] as Segment;
      this.#entries.splice(index, 1);
      this.#stats.onDiskBytes -= seg.bytes;
      this.#unlink(seg);
      const records = seg.lastSeq - seg.firstSeq + 1;
      const time = Date.now();
      changed.add(
        this.#insertGap({ fromSeq: seg.firstSeq, toSeq: seg.lastSeq, records, bytes: seg.bytes, time }),
      );
    }
    for (const gap of changed) this.#persistGap(gap);
  }

  /** The first ring segment: after the head (before the first gap, or the first half of the cap). */
  #evictionCandidate(): number {
    let start = this.#entries.findIndex((e) => e.kind === "gap") + 1;
    if (start === 0) {
      let cumulative = 0;
      for (const e of this.#entries) {
        if (start > 0 && cumulative + (e as Segment).bytes > this.#maxBytes / 2) break;
        cumulative += (e as Segment).bytes;
        start++;
      }
    }
    for (let i = start; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (e === this.#active) return -1;
      if (e.kind === "segment" && e.firstSeq >= this.#cursor.nextSeq && e.lastSeq >= e.firstSeq) return i;
    }
    return -1;
  }

  /** Records a dropped range, merged into an adjacent gap the reader has not reached yet; not persisted. */
  #insertGap(gap: SpoolGap, atEnd = false): Gap {
    this.#simple = false;
    this.#stats.droppedRecords += gap.records;
    this.#stats.droppedBytes += gap.bytes;
    let index = atEnd ? -1 : this.#entries.findIndex((e) => entryStart(e) > gap.fromSeq);
    if (index < 0) index = this.#entries.length;
    const prev = this.#entries[index - 1];
    if (prev?.kind === "gap" && prev.toSeq + 1 === gap.fromSeq && prev.fromSeq >= this.#cursor.nextSeq) {
      prev.toSeq = gap.toSeq;
      prev.records += gap.records;
      prev.bytes += gap.bytes;
      return prev;
    }
    const entry: Gap = { kind: "gap", ...gap, path: join(this.dir, `${pad(gap.fromSeq)}.gap`) };
    this.#entries.splice(index, 0, entry);
    return entry;
  }

  #persistGap(gap: Gap): void {
    try {
      if (!this.#dirMade) {
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        this.#dirMade = true;
      }
      const { kind: _, path: __, ...data } = gap;
      writeAtomic(gap.path, JSON.stringify(data));
    } catch (err) {
      this.#onError?.(err);
    }
  }

  /** Reads frames of one segment into `batch`; false when the segment has nothing more on disk. */
  #readSegment(seg: Segment, batch: FrameBatch, maxItems: number, maxBytes: number): boolean {
    if (this.#cursor.segmentFirstSeq !== seg.firstSeq) this.#seek(seg);
    const offset = this.#cursor.offset;
    const available = seg.bytes - offset;
    if (available <= 0) {
      if (seg === this.#active || this.#cursor.nextSeq > seg.lastSeq) return false;
      // The end of a finished segment that holds fewer frames than its range (damaged): step over the rest.
      this.#cursor = { nextSeq: seg.lastSeq + 1, segmentFirstSeq: seg.firstSeq, offset };
      return true;
    }
    const fd = this.#readFdOf(seg);
    const taken = itemsOf(batch);
    let size = Math.min(available, Math.max(maxBytes - batch.bytes, READ_CHUNK_BYTES));
    for (;;) {
      if (this.#readBuf.length - this.#readFill < size) {
        // Earlier parts of this batch keep the old buffer; this read starts a new one (sized to the read, at least
        // twice the last: a short job's spool reads a few hundred bytes, a noisy one soon reads whole batches).
        this.#readBuf = Buffer.allocUnsafe(Math.max(size, 2 * this.#readBuf.length));
        this.#readFill = 0;
      }
      const buf = this.#readBuf;
      const start = this.#readFill;
      const n = readSync(fd, buf, start, size, seg.base + offset);
      const walked = walkFrames(
        buf,
        start,
        start + n,
        maxItems - taken,
        maxBytes - batch.bytes,
        taken > 0 ? 0 : 1,
      );
      if (walked.count === 0) {
        if (taken > 0) return false; // the next record does not fit this batch
        if (n === size && size < available) {
          size = Math.min(available, size * 4); // one record longer than the chunk: read more
          continue;
        }
        // A frame that runs past the segment: the rest of a sealed segment cannot be read; step over it.
        if (seg === this.#active) return false;
        this.#onError?.(new Error(`the log spool segment ${seg.path} is damaged after byte ${offset}`));
        this.#cursor = { nextSeq: seg.lastSeq + 1, segmentFirstSeq: seg.firstSeq, offset: seg.bytes };
        return true;
      }
      const firstSeq = this.#cursor.nextSeq;
      batch.parts.push({ buf, start, end: walked.end, count: walked.count, firstSeq });
      batch.records += walked.count;
      batch.bytes += walked.end - start;
      batch.lastSeq = firstSeq + walked.count - 1;
      this.#readFill = walked.end;
      this.#cursor = {
        nextSeq: firstSeq + walked.count,
        segmentFirstSeq: seg.firstSeq,
        offset: offset + walked.end - start,
      };
      return true;
    }
  }

  /** The read descriptor of a segment (the ack holder's own; else one open at a time). */
  #readFdOf(seg: Segment): number {
    if (seg === this.#ackSeg && this.#ackFd !== undefined) return this.#ackFd;
    if (this.#readFd?.firstSeq !== seg.firstSeq) {
      if (this.#readFd !== undefined) closeSync(this.#readFd.fd);
      this.#readFd = { fd: openSync(seg.path, "r"), firstSeq: seg.firstSeq };
    }
    return this.#readFd.fd;
  }

  /** Points the cursor into `seg` at the frame of `cursor.nextSeq` (after a rewind or a recovery). */
  #seek(seg: Segment): void {
    let skip = this.#cursor.nextSeq - seg.firstSeq;
    let offset = 0;
    if (skip > 0) {
      const fd = this.#readFdOf(seg);
      const buf = Buffer.allocUnsafe(Math.min(seg.bytes, 1024 ** 2));
      while (skip > 0 && offset < seg.bytes) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, seg.bytes - offset), seg.base + offset);
        const walked = walkFrames(buf, 0, n, skip);
        if (walked.count === 0) {
          offset = seg.bytes; // damaged: nothing more can be read from this segment
          break;
        }
        offset += walked.end;
        skip -= walked.count;
      }
    }
    this.#cursor = { nextSeq: this.#cursor.nextSeq, segmentFirstSeq: seg.firstSeq, offset };
  }

  /** Rebuilds the entries of a spool left on disk; cuts a torn last frame; seals it. */
  #recover(entries: Entry[], ackedSeq: number): void {
    for (const e of entries) {
      this.#entries.push(e);
      if (e.kind === "gap") {
        this.#stats.droppedRecords += e.records;
        this.#stats.droppedBytes += e.bytes;
      }
    }
    const start = entryStart;
    // On a tie (an empty segment where a failed write began) the segment goes first.
    this.#entries.sort((a, b) => start(a) - start(b) || (a.kind === "segment" ? -1 : 1));
    for (let i = 0; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (e.kind !== "segment") continue;
      const next = this.#entries[i + 1];
      if (next !== undefined) e.lastSeq = start(next) - 1;
      else this.#recoverLastSegment(e);
      this.#stats.onDiskBytes += e.bytes;
    }
    const last = this.#entries.at(-1);
    this.#lastSeq = Math.max(
      ackedSeq,
      last === undefined ? 0 : last.kind === "gap" ? last.toSeq : last.lastSeq,
    );
    this.#sealed = true;
    this.#ackedSeq = ackedSeq;
    if (!this.done) this.#dropCovered();
    this.rewind();
  }

  /** Counts the complete frames of the last segment and cuts off a torn frame after them. */
  #recoverLastSegment(seg: Segment): void {
    const data = readFileSync(seg.path);
    const walked = walkFrames(data, Math.min(seg.base, data.length), data.length);
    if (walked.end < data.length) truncateSync(seg.path, walked.end);
    seg.bytes = Math.max(0, walked.end - seg.base);
    seg.lastSeq = seg.firstSeq + walked.count - 1;
  }
}

/** Records and drop markers in a batch. */
function itemsOf(batch: FrameBatch): number {
  let gaps = 0;
  for (const part of batch.parts) if (isGapPart(part)) gaps++;
  return batch.records + gaps;
}

function entryStart(e: Entry): number {
  return e.kind === "gap" ? e.fromSeq : e.firstSeq;
}

/** The execution directories under `<stateDir>/spool` (absolute paths), oldest name first. */
export function listSpoolDirs(stateDir: string): string[] {
  try {
    return readdirSync(spoolRoot(stateDir), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(spoolRoot(stateDir), d.name))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
