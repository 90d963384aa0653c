/**
 * The embedded control plane's job and process logs: each request body is kept as received (raw OTLP bytes,
 * scanned but not decoded) and decoded only when someone reads the records, so storing a batch costs a scan of
 * its bytes and nothing per record is allocated until then.
 *
 * De-duplication: a record carrying `runner.log.seq` is stored once per (`runner_job_execution.id`, seq), and a
 * drop marker once per range, so a batch a runner sends again (the one in flight when it was killed, or whose
 * answer was lost) changes nothing: at-least-once on the wire + sequence numbers = exactly once here. Records
 * without a sequence number are always stored.
 *
 * Cap: at most `maxRecordsPerStream` records are held per stream; past it the oldest are evicted (counted in
 * `evicted`), while the sequence numbers seen are kept for good, so de-duplication and the completeness counters
 * still cover evicted records. With a directory, every body that stored something is appended to
 * `<dir>/<stream>.otlp` (4-byte length + body) before the answer, and replayed at start.
 */
import { closeSync, mkdirSync, openSync, readSync, statSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { DecodedLogRecord } from "../otlp/logs-proto.ts";
import { decodeLogRecords } from "../otlp/logs-reader.ts";
import { type ScannedLogRecord, scanLogsRequest } from "../otlp/logs-scan.ts";
import { MAX_LOG_RECORDS_PER_STREAM } from "./defaults.ts";
import { SeqRanges } from "./seq-ranges.ts";

/** What a stream's logs hold and what was dropped, for tests, the bench and the admin view. */
export interface LogStreamStats {
  /** Requests that stored at least one record. */
  requests: number;
  /** Records stored since the stream was created (re-sent duplicates not counted, evicted ones counted). */
  records: number;
  /** Records held now (at most the cap). */
  kept: number;
  /** Records evicted, oldest first, because the stream held more than the cap. */
  evicted: number;
  /** Re-sent records dropped: their execution and `runner.log.seq` (or drop range) were stored already. */
  duplicates: number;
  /** Requests that carried at least one such duplicate. */
  duplicateRequests: number;
  /** Per execution id, by sequence number. */
  executions: Record<string, ExecutionLogStats>;
}

/** Completeness of one execution's records, by `runner.log.seq`. */
export interface ExecutionLogStats {
  /** The highest sequence number received or covered by a drop marker. */
  lastSeq: number;
  /** Records received with a sequence number (each counted once). */
  received: number;
  /** Records the runner's spool reported dropped (drop markers). */
  droppedByRunner: number;
  /** Sequence numbers in 1…lastSeq neither received nor covered by a marker: lost records. */
  missing: number;
}

interface Batch {
  body: Buffer;
  /** Indices of the records stored (sorted); undefined: all `count` of them. */
  keep: number[] | undefined;
  /** Records stored from this batch. */
  count: number;
  /** Of those, evicted from the front. */
  evicted: number;
  decoded?: DecodedLogRecord[];
}

interface Stream {
  batches: Batch[];
  /** batches[head…] are live. */
  head: number;
  kept: number;
  seen: Map<string, SeqRanges>;
  counts: {
    requests: number;
    records: number;
    evicted: number;
    duplicates: number;
    duplicateRequests: number;
  };
  executions: Map<string, { received: number; droppedByRunner: number }>;
}

/** Options of a LogStore. */
export interface LogStoreOptions {
  /** Default MAX_LOG_RECORDS_PER_STREAM (250 000). */
  maxRecordsPerStream?: number;
  /** Where the bodies are kept across restarts; in memory only when absent. */
  dir?: string;
  /** Called when a log file cannot be written or read (the records stay in memory). */
  onError?: (err: unknown, message: string) => void;
}

/** What `append` did with one request. */
export interface AppendResult {
  stored: number;
  duplicates: number;
}

/** Every stream's logs; see the module comment. */
export class LogStore {
  readonly #streams = new Map<string, Stream>();
  readonly #max: number;
  readonly #dir: string | undefined;
  readonly #onError: (err: unknown, message: string) => void;

  constructor(opts: LogStoreOptions = {}) {
    this.#max = opts.maxRecordsPerStream ?? MAX_LOG_RECORDS_PER_STREAM;
    this.#dir = opts.dir;
    this.#onError = opts.onError ?? (() => {});
  }

  /**
   * Stores a request body already checked by `scanLogsRequest` (`scanned` is its result): keeps the records
   * not seen yet, evicts past the cap, and appends the body to the stream's file.
   */
  append(streamId: string, body: Buffer, scanned: ScannedLogRecord[]): AppendResult {
    const result = this.#apply(streamId, body, scanned);
    if (result.stored > 0 && this.#dir !== undefined) this.#persist(streamId, body);
    return result;
  }

  /** Checks and stores a body; throws an Error starting "invalid OTLP logs protobuf" when it is not one. */
  appendBody(streamId: string, body: Buffer): AppendResult {
    return this.append(streamId, body, scanLogsRequest(body));
  }

  /** The records a stream holds, oldest first (decoded now for batches nobody read before). */
  records(streamId: string): DecodedLogRecord[] {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return [];
    const out: DecodedLogRecord[] = [];
    for (let i = stream.head; i < stream.batches.length; i++) {
      const batch = stream.batches[i]!;
      batch.decoded ??= decodeKept(batch);
      for (let k = batch.evicted; k < batch.decoded.length; k++) out.push(batch.decoded[k]!);
    }
    return out;
  }

  /** The counters of a stream (all zero for one that never got a record). */
  stats(streamId: string): LogStreamStats {
    const stream = this.#streams.get(streamId);
    const executions: Record<string, ExecutionLogStats> = {};
    if (stream === undefined) {
      return {
        requests: 0,
        records: 0,
        evicted: 0,
        duplicates: 0,
        duplicateRequests: 0,
        kept: 0,
        executions,
      };
    }
    for (const [id, seen] of stream.seen) {
      const counts = stream.executions.get(id);
      const max = seen.max;
      executions[id] = {
        lastSeq: max,
        received: counts?.received ?? 0,
        droppedByRunner: counts?.droppedByRunner ?? 0,
        missing: max - seen.covered,
      };
    }
    const { counts } = stream;
    return {
      requests: counts.requests,
      records: counts.records,
      evicted: counts.evicted,
      duplicates: counts.duplicates,
      duplicateRequests: counts.duplicateRequests,
      kept: stream.kept,
      executions,
    };
  }

  /** Replays a stream's file (at start, before any request); a torn last frame is cut off. */
  load(streamId: string): void {
    if (this.#dir === undefined) return;
    const path = this.#path(streamId);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.#onError(err, `cannot read ${path}`);
      return;
    }
    let offset = 0;
    try {
      const size = statSync(path).size;
      const header = Buffer.alloc(4);
      while (offset + 4 <= size) {
        readSync(fd, header, 0, 4, offset);
        const length = header.readUInt32LE(0);
        if (offset + 4 + length > size) break;
        const body = Buffer.allocUnsafe(length);
        readSync(fd, body, 0, length, offset + 4);
        this.#apply(streamId, body, scanLogsRequest(body));
        offset += 4 + length;
      }
      if (offset < size) truncateSync(path, offset);
    } catch (err) {
      this.#onError(err, `the log file ${path} is damaged after byte ${offset}; what follows is ignored`);
    } finally {
      closeSync(fd);
    }
  }

  #apply(streamId: string, body: Buffer, scanned: ScannedLogRecord[]): AppendResult {
    const stream = this.#stream(streamId);
    let keep: number[] | undefined;
    let duplicates = 0;
    for (let i = 0; i < scanned.length; i++) {
      const rec = scanned[i]!;
      let isNew = true;
      if (rec.seq > 0) {
        const seen = seenOf(stream, rec.executionId);
        isNew = seen.add(rec.seq) > 0;
        if (isNew) countsOf(stream, rec.executionId).received++;
      } else if (rec.droppedFromSeq > 0 && rec.droppedToSeq >= rec.droppedFromSeq) {
        const added = seenOf(stream, rec.executionId).add(rec.droppedFromSeq, rec.droppedToSeq);
        isNew = added > 0;
        countsOf(stream, rec.executionId).droppedByRunner += added;
      }
      if (isNew) {
        keep?.push(i);
        continue;
      }
      duplicates++;
      keep ??= Array.from({ length: i }, (_, k) => k);
    }
    const stored = scanned.length - duplicates;
    stream.counts.duplicates += duplicates;
    if (duplicates > 0) stream.counts.duplicateRequests++;
    if (stored === 0) return { stored, duplicates };
    stream.counts.requests++;
    stream.counts.records += stored;
    stream.batches.push({ body, keep, count: stored, evicted: 0 });
    stream.kept += stored;
    this.#evict(stream);
    return { stored, duplicates };
  }

  #evict(stream: Stream): void {
    while (stream.kept > this.#max) {
      const batch = stream.batches[stream.head]!;
      const n = Math.min(batch.count - batch.evicted, stream.kept - this.#max);
      batch.evicted += n;
      stream.kept -= n;
      stream.counts.evicted += n;
      if (batch.evicted === batch.count) stream.head++;
    }
    if (stream.head > 64 && stream.head * 2 > stream.batches.length) {
      stream.batches.splice(0, stream.head);
      stream.head = 0;
    }
  }

  #stream(streamId: string): Stream {
    let stream = this.#streams.get(streamId);
    if (stream === undefined) {
      stream = {
        batches: [],
        head: 0,
        kept: 0,
        seen: new Map(),
        counts: { requests: 0, records: 0, evicted: 0, duplicates: 0, duplicateRequests: 0 },
        executions: new Map(),
      };
      this.#streams.set(streamId, stream);
    }
    return stream;
  }

  #path(streamId: string): string {
    const safe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(streamId)
      ? streamId
      : `%${Buffer.from(streamId).toString("hex").slice(0, 200)}`;
    return join(this.#dir!, `${safe}.otlp`);
  }

  #persist(streamId: string, body: Buffer): void {
    const path = this.#path(streamId);
    try {
      mkdirSync(this.#dir!, { recursive: true, mode: 0o700 });
      const header = Buffer.alloc(4);
      header.writeUInt32LE(body.length, 0);
      const fd = openSync(path, "a", 0o600);
      try {
        for (const data of [header, body]) {
          for (let done = 0; done < data.length; ) done += writeSync(fd, data, done);
        }
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.#onError(err, `cannot append to ${path}; the records are kept in memory only`);
    }
  }
}

function seenOf(stream: Stream, executionId: string): SeqRanges {
  let seen = stream.seen.get(executionId);
  if (seen === undefined) {
    seen = new SeqRanges();
    stream.seen.set(executionId, seen);
  }
  return seen;
}

function countsOf(stream: Stream, executionId: string): { received: number; droppedByRunner: number } {
  let counts = stream.executions.get(executionId);
  if (counts === undefined) {
    counts = { received: 0, droppedByRunner: 0 };
    stream.executions.set(executionId, counts);
  }
  return counts;
}

/** The stored records of a batch, decoded. */
function decodeKept(batch: Batch): DecodedLogRecord[] {
  const keep = batch.keep;
  if (keep === undefined) return decodeLogRecords(batch.body);
  let next = 0;
  return decodeLogRecords(batch.body, (index) => {
    if (keep[next] !== index) return false;
    next++;
    return true;
  });
}
