/**
 * The durable log spool of one execution: `<stateDir>/spool/<executionId>/` holds `meta.json` (the execution),
 * segment files `<firstSeq>.log` of NDJSON records (append-only, rolled every `segmentBytes`), `<fromSeq>.gap`
 * files describing dropped ranges, `ack` (the last acknowledged sequence number, one fixed-width line) and
 * `sealed` once no more records come. Appends are batched in memory for at most `writeDelayMs` (or until
 * `maxPendingBytes`), then written synchronously, so memory stays bounded whatever a job writes; the reader
 * streams from disk after the ack and never loads a file whole; acknowledged segments are deleted.
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
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { SpoolGap, SpoolItem, SpoolRecord, StreamContext } from "./otlp-records.ts";

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

/** What the spool remembers about its execution (`meta.json`). */
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
  fromSeq: z.number().int(),
  toSeq: z.number().int(),
  records: z.number().int(),
  bytes: z.number().int(),
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

/** One batch handed out by `read`. */
export interface SpoolBatch {
  items: SpoolItem[];
  /** The sequence number to acknowledge once the batch is delivered (everything handed out so far). */
  lastSeq: number;
  /** Spool bytes of the batch. */
  bytes: number;
}

type Segment = { kind: "segment"; firstSeq: number; lastSeq: number; bytes: number; path: string };
type Gap = SpoolGap & { kind: "gap"; path: string };
type Entry = Segment | Gap;

const READ_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

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
  readonly #entries: Entry[] = [];
  readonly #listeners = new Set<() => void>();
  #active: Segment | undefined;
  #fd: number | undefined;
  #readFd: { fd: number; firstSeq: number } | undefined;
  #ackFd: number | undefined;
  /** Reused by every write. */
  readonly #writeBuf = Buffer.allocUnsafe(256 * 1024);
  /** Reused by every read (records are copied out of it as strings). */
  #readBuf = Buffer.alloc(0);
  #pending: string[] = [];
  #pendingSizes: number[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastSeq = 0;
  #ackedSeq = 0;
  #sealed = false;
  /** Set after a failed write: the next record starts a new segment. */
  #needRoll = false;
  #removed = false;
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
  }

  /** Creates a new, empty spool for an execution (throws when `dir` already holds one). */
  static create(dir: string, context: StreamContext & { ship: boolean }, opts: SpoolOptions = {}): Spool {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (readdirSync(dir).includes("meta.json")) throw new Error(`a log spool already exists in ${dir}`);
    const meta: SpoolMeta = SpoolMeta.parse({ ...context, createdAtMs: Date.now() });
    writeAtomic(join(dir, "meta.json"), JSON.stringify(meta));
    const spool = new Spool(dir, meta, opts);
    spool.#roll(1);
    return spool;
  }

  /**
   * Opens a spool a previous process left behind (after a crash or restart), sealed: a torn last line is cut
   * off, acknowledged segments are deleted, and reading starts after the ack.
   */
  static open(dir: string, opts: SpoolOptions = {}): Spool {
    const meta = SpoolMeta.parse(JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")));
    const spool = new Spool(dir, meta, opts);
    spool.#recover();
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
    return Math.max(0, this.#lastSeq - this.#pendingSizes.length - this.#cursor.nextSeq + 1);
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
    if (this.#sealed) return 0;
    const seq = ++this.#lastSeq;
    const line = `${JSON.stringify({ seq, ...record })}\n`;
    const size = Buffer.byteLength(line);
    this.#pending.push(line);
    this.#pendingSizes.push(size);
    this.#pendingBytes += size;
    this.#stats.bytes += size;
    if (this.#pendingBytes >= this.#maxPendingBytes) this.flushWrites();
    else this.#timer ??= setTimeout(() => this.flushWrites(), this.#writeDelayMs);
    return seq;
  }

  /** Writes the records waiting in memory to disk now. */
  flushWrites(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0 || this.#removed) return;
    const lines = this.#pending;
    const sizes = this.#pendingSizes;
    this.#pending = [];
    this.#pendingSizes = [];
    this.#pendingBytes = 0;
    let seq = this.#lastSeq - lines.length + 1;
    let from = 0;
    let chunkBytes = 0;
    for (let i = 0; i < lines.length; i++) {
      const active = this.#active!;
      const size = sizes[i]!;
      const full = active.bytes + chunkBytes > 0 && active.bytes + chunkBytes + size > this.#segmentBytes;
      if (this.#needRoll || full) {
        this.#writeChunk(lines, from, i, seq, chunkBytes);
        seq += i - from;
        from = i;
        chunkBytes = 0;
        this.#roll(seq);
      }
      chunkBytes += size;
    }
    this.#writeChunk(lines, from, lines.length, seq, chunkBytes);
    this.#evictOverCap();
    this.#notify();
  }

  /**
   * Hands out the next records after the last one handed out: at most `maxItems` and about `maxBytes` (at
   * least one record). A gap is one item. Reads stream from disk.
   */
  read(maxItems: number, maxBytes: number): SpoolBatch {
    const batch: SpoolBatch = { items: [], lastSeq: 0, bytes: 0 };
    while (batch.items.length < maxItems && (batch.bytes < maxBytes || batch.items.length === 0)) {
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
        batch.items.push(gap);
        batch.lastSeq = entry.toSeq;
        this.#cursor = { nextSeq: entry.toSeq + 1, segmentFirstSeq: -1, offset: 0 };
        continue;
      }
      if (!this.#readSegment(entry, batch, maxItems, maxBytes)) break;
    }
    // Acknowledging the batch also steps over records that could not be parsed.
    batch.lastSeq = Math.max(batch.lastSeq, this.#cursor.nextSeq - 1);
    return batch;
  }

  /** Moves the reader back to just after the ack (what was handed out but not acknowledged is read again). */
  rewind(): void {
    this.#cursor = { nextSeq: this.#ackedSeq + 1, segmentFirstSeq: -1, offset: 0 };
  }

  /** Records that everything up to `seq` was delivered: persists the ack and deletes what it covers. */
  ack(seq: number): void {
    if (seq <= this.#ackedSeq || this.#removed) return;
    this.#ackedSeq = seq;
    this.#writeAck(seq);
    while (this.#entries.length > 0) {
      const e = this.#entries[0]!;
      const covered = e.kind === "gap" ? e.toSeq <= seq : e.lastSeq <= seq && e !== this.#active;
      if (!covered) break;
      this.#entries.shift();
      if (e.kind === "segment") this.#stats.onDiskBytes -= e.bytes;
      this.#unlink(e.path);
    }
    this.#notify();
  }

  /** Writes what waits, closes the file and marks the spool complete. Idempotent. */
  seal(): void {
    if (this.#sealed) return;
    this.flushWrites();
    this.#sealed = true;
    this.#active = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    if (!this.#removed) writeAtomic(join(this.dir, "sealed"), "");
    this.#notify();
  }

  /** Deletes the spool directory (after everything was shipped, or when nobody will ship it). */
  remove(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#sealed = true;
    this.#removed = true;
    this.#active = undefined;
    this.#entries.length = 0;
    this.#pending = [];
    this.#pendingSizes = [];
    for (const fd of [this.#fd, this.#readFd?.fd, this.#ackFd]) if (fd !== undefined) closeSync(fd);
    this.#fd = undefined;
    this.#readFd = undefined;
    this.#ackFd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    this.#notify();
  }

  /**
   * Rewrites `ack` in place: one fixed-width pwrite (20 digits and a newline) at offset 0, which a crash
   * cannot tear (a rename per batch costs milliseconds on ext4). Unreadable means "resend": never a loss.
   */
  #writeAck(seq: number): void {
    try {
      this.#ackFd ??= openSync(join(this.dir, "ack"), constants.O_WRONLY | constants.O_CREAT, 0o600);
      writeSync(this.#ackFd, `${String(seq).padStart(20, "0")}\n`, 0);
    } catch (err) {
      this.#onError?.(err);
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

  #unlink(path: string): void {
    if (this.#readFd !== undefined && path.endsWith(`${pad(this.#readFd.firstSeq)}.log`)) {
      closeSync(this.#readFd.fd);
      this.#readFd = undefined;
    }
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.#onError?.(err);
    }
  }

  /** Starts a new active segment whose first record is `firstSeq`. */
  #roll(firstSeq: number): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#needRoll = false;
    const path = join(this.dir, `${pad(firstSeq)}.log`);
    try {
      this.#fd = openSync(path, "a", 0o600);
    } catch (err) {
      this.#onError?.(err); // the write into it fails too, and its records become a gap
    }
    this.#active = { kind: "segment", firstSeq, lastSeq: firstSeq - 1, bytes: 0, path };
    this.#entries.push(this.#active);
  }

  /** Writes lines[from, to) (sequence numbers from `firstSeq`) to the active segment. */
  #writeChunk(lines: string[], from: number, to: number, firstSeq: number, bytes: number): void {
    if (to <= from) return;
    const active = this.#active!;
    try {
      const fd = this.#fd;
      if (fd === undefined) throw new Error(`the log spool segment ${active.path} is not open`);
      // Copied into one reused buffer and written in pieces: no per-flush allocation left for the GC.
      const buf = this.#writeBuf;
      let pos = 0;
      const drain = () => {
        for (let done = 0; done < pos; ) done += writeSync(fd, buf, done, pos - done);
        pos = 0;
      };
      for (let i = from; i < to; i++) {
        const line = lines[i]!;
        if (pos + line.length * 3 > buf.length) drain();
        if (line.length * 3 > buf.length) {
          const data = Buffer.from(line);
          for (let done = 0; done < data.length; ) done += writeSync(fd, data, done);
        } else pos += buf.write(line, pos);
      }
      drain();
      active.bytes += bytes;
      active.lastSeq = firstSeq + (to - from) - 1;
      this.#stats.onDiskBytes += bytes;
    } catch (err) {
      this.#onError?.(err);
      try {
        if (this.#fd !== undefined) ftruncateSync(this.#fd, active.bytes);
      } catch {
        // the next segment starts clean either way
      }
      const toSeq = firstSeq + (to - from) - 1;
      this.#persistGap(
        this.#insertGap({ fromSeq: firstSeq, toSeq, records: to - from, bytes, time: Date.now() }, true),
      );
      this.#needRoll = true;
    }
  }

  /** Evicts ring segments into the gap until the unacknowledged bytes fit the cap again. */
  #evictOverCap(): void {
    const changed = new Set<Gap>();
    while (this.#stats.onDiskBytes > this.#maxBytes) {
      const index = this.#evictionCandidate();
      if (index < 0) break;
      const seg = this.#entries[index] as Segment;
      this.#entries.splice(index, 1);
      this.#stats.onDiskBytes -= seg.bytes;
      this.#unlink(seg.path);
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
      const { kind: _, path: __, ...data } = gap;
      writeAtomic(gap.path, JSON.stringify(data));
    } catch (err) {
      this.#onError?.(err);
    }
  }

  /** Reads records of one segment into `batch`; false when the segment has nothing more on disk. */
  #readSegment(seg: Segment, batch: SpoolBatch, maxItems: number, maxBytes: number): boolean {
    if (this.#cursor.segmentFirstSeq !== seg.firstSeq) {
      this.#cursor = { nextSeq: this.#cursor.nextSeq, segmentFirstSeq: seg.firstSeq, offset: 0 };
    }
    const offset = this.#cursor.offset;
    const available = seg.bytes - offset;
    if (available <= 0) return false;
    if (this.#readFd?.firstSeq !== seg.firstSeq) {
      if (this.#readFd !== undefined) closeSync(this.#readFd.fd);
      this.#readFd = { fd: openSync(seg.path, "r"), firstSeq: seg.firstSeq };
    }
    // Read about what the batch still takes (from the average record size), not the whole byte budget.
    const average = this.#lastSeq > 0 ? this.#stats.bytes / this.#lastSeq : 256;
    const wanted = Math.min(maxBytes - batch.bytes, (maxItems - batch.items.length) * average * 1.25);
    let size = Math.min(available, Math.max(wanted, READ_CHUNK_BYTES));
    for (;;) {
      if (this.#readBuf.length < size) this.#readBuf = Buffer.allocUnsafe(size);
      const buf = this.#readBuf;
      const n = readSync(this.#readFd.fd, buf, 0, size, offset);
      let pos = 0;
      while (batch.items.length < maxItems) {
        const nl = buf.indexOf(NEWLINE, pos);
        if (nl < 0 || nl >= n) break;
        const lineBytes = nl + 1 - pos;
        if (batch.items.length > 0 && batch.bytes + lineBytes > maxBytes) break;
        const record = parseRecord(buf.toString("utf8", pos, nl));
        pos = nl + 1;
        if (record === undefined || record.seq < this.#cursor.nextSeq) continue; // corrupt, or acknowledged
        batch.items.push(record);
        batch.bytes += lineBytes;
        batch.lastSeq = record.seq;
        this.#cursor.nextSeq = record.seq + 1;
      }
      this.#cursor.offset = offset + pos;
      if (pos === 0 && batch.items.length === 0 && n === size && size < available) {
        size = Math.min(available, size * 4); // one record longer than the chunk: read more
        continue;
      }
      // A segment's last record may have been corrupt: step over its sequence numbers.
      if (this.#cursor.offset >= seg.bytes && seg !== this.#active) this.#cursor.nextSeq = seg.lastSeq + 1;
      return pos > 0;
    }
  }

  /** Rebuilds the entries of a spool left on disk; cuts a torn last line; seals it. */
  #recover(): void {
    const names = readdirSync(this.dir);
    try {
      const text = readFileSync(join(this.dir, "ack"), "utf8").trim();
      this.#ackedSeq = /^\d{1,20}$/.test(text) ? Number(text) : 0;
    } catch {
      this.#ackedSeq = 0; // no ack (or unreadable): ship everything again rather than lose any
    }
    for (const name of names) {
      const match = /^(\d{12})\.(log|gap)$/.exec(name);
      if (match === null) continue;
      const path = join(this.dir, name);
      if (match[2] === "gap") {
        try {
          const gap = GapFile.parse(JSON.parse(readFileSync(path, "utf8")));
          this.#entries.push({ kind: "gap", ...gap, path });
          this.#stats.droppedRecords += gap.records;
          this.#stats.droppedBytes += gap.bytes;
        } catch (err) {
          this.#onError?.(err);
        }
        continue;
      }
      const firstSeq = Number(match[1]);
      this.#entries.push({
        kind: "segment",
        firstSeq,
        lastSeq: firstSeq - 1,
        bytes: statSync(path).size,
        path,
      });
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
      this.#ackedSeq,
      last === undefined ? 0 : last.kind === "gap" ? last.toSeq : last.lastSeq,
    );
    this.#sealed = true;
    writeAtomic(join(this.dir, "sealed"), "");
    const ack = this.#ackedSeq;
    this.#ackedSeq = 0;
    this.ack(ack);
    this.rewind();
  }

  /** Finds the last complete record of the last segment and cuts off a torn line after it. */
  #recoverLastSegment(seg: Segment): void {
    const data = readFileSync(seg.path);
    let end = data.lastIndexOf(NEWLINE) + 1;
    if (end < data.length) truncateSync(seg.path, end);
    seg.bytes = end;
    while (end > 0) {
      const startOfLine = data.lastIndexOf(NEWLINE, end - 2) + 1;
      const record = parseRecord(data.toString("utf8", startOfLine, end - 1));
      if (record !== undefined) {
        seg.lastSeq = record.seq;
        return;
      }
      end = startOfLine;
    }
  }
}

function entryStart(e: Entry): number {
  return e.kind === "gap" ? e.fromSeq : e.firstSeq;
}

function parseRecord(line: string): SpoolRecord | undefined {
  try {
    const value = JSON.parse(line) as SpoolRecord;
    return typeof value === "object" && value !== null && Number.isSafeInteger(value.seq) ? value : undefined;
  } catch {
    return undefined;
  }
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
