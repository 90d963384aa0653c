import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { walkFrames } from "../../src/logs/frames.ts";
import { isGap, type SpoolGap, type SpoolItem, type SpoolRecord } from "../../src/logs/otlp-records.ts";
import { listSpoolDirs, Spool, type SpoolOptions, spoolDir, spoolRoot } from "../../src/logs/spool.ts";
import { createSpoolDirPool } from "../../src/logs/spool-pool.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), "runner-spool-"));
  dirs.push(d);
  return d;
}

const CONTEXT = { jobId: "job1", jobType: "noop", logStreamId: "ls1", executionId: "exec1", ship: true };

function newSpool(opts: SpoolOptions = {}, dir = stateDir()): Spool {
  return Spool.create(spoolDir(dir, "exec1"), CONTEXT, opts);
}

function line(i: number, pad = 80): Omit<SpoolRecord, "seq"> {
  return {
    time: 1_700_000_000_000 + i,
    level: "info",
    step: "execute",
    stream: "stdout",
    msg: `line ${i} ${"x".repeat(pad)}`,
  };
}

/** Reads and acks everything the spool hands out, in batches. */
function drain(spool: Spool, maxItems = 100, maxBytes = 64 * 1024): SpoolItem[] {
  const out: SpoolItem[] = [];
  for (;;) {
    const batch = spool.read(maxItems, maxBytes);
    if (batch.items.length === 0) return out;
    out.push(...batch.items);
    spool.ack(batch.lastSeq);
  }
}

const seqs = (items: SpoolItem[]) => items.filter((i) => !isGap(i)).map((i) => (i as SpoolRecord).seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("log spool", () => {
  it("hands out every record once, in order, with contiguous sequence numbers across segment files", () => {
    const spool = newSpool({ segmentBytes: 4096 });
    for (let i = 1; i <= 1000; i++) expect(spool.append(line(i))).toBe(i);
    spool.flushWrites();
    const segments = readdirSync(spool.dir).filter((n) => n.endsWith(".seg"));
    expect(segments.length).toBeGreaterThan(10);
    const items = drain(spool, 37, 5000);
    expect(seqs(items)).toEqual(range(1, 1000));
    expect((items[41] as SpoolRecord).msg).toBe(`line 42 ${"x".repeat(80)}`);
    // Acknowledged segments are deleted; the active one stays.
    expect(readdirSync(spool.dir).filter((n) => n.endsWith(".seg"))).toHaveLength(1);
    expect(spool.stats.onDiskBytes).toBeLessThanOrEqual(4096);
  });

  it("keeps a batch within its record and byte budgets, but always hands out at least one record", () => {
    const spool = newSpool();
    for (let i = 1; i <= 50; i++) spool.append(line(i, 1000));
    spool.flushWrites();
    expect(spool.read(10, 1_000_000).items).toHaveLength(10);
    const small = spool.read(100, 3000);
    expect(small.items).toHaveLength(2);
    expect(small.bytes).toBeLessThanOrEqual(3000);
    expect(spool.read(100, 10).items).toHaveLength(1);
  });

  it("writes nothing to disk before the write delay, and everything right after it", async () => {
    const spool = newSpool({ writeDelayMs: 30 });
    spool.append(line(1));
    expect(spool.unread).toBe(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(spool.unread).toBe(1);
    expect(seqs(drain(spool))).toEqual([1]);
  });

  it("resumes after the persisted ack when a spool left on disk is reopened, cutting a torn last line", () => {
    const root = stateDir();
    const first = newSpool({ segmentBytes: 4096 }, root);
    for (let i = 1; i <= 300; i++) first.append(line(i));
    first.flushWrites();
    const batch = first.read(120, 1_000_000);
    first.ack(batch.lastSeq);
    // Handed out but never acknowledged (a crash mid-request): shipped again after the restart.
    first.read(50, 1_000_000);
    first.flushWrites();
    const segments = readdirSync(first.dir)
      .filter((n) => n.endsWith(".seg"))
      .sort();
    // A write cut by kill -9: a frame header announcing 200 bytes, and 10 of them.
    const lastSegment = join(first.dir, segments.at(-1)!);
    const intact = readFileSync(lastSegment);
    appendFileSync(lastSegment, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));

    const [dir] = listSpoolDirs(root);
    const reopened = Spool.open(dir!);
    expect(reopened.sealed).toBe(true);
    expect(reopened.ackedSeq).toBe(120);
    expect(reopened.lastSeq).toBe(300);
    expect(reopened.meta).toMatchObject({
      jobId: "job1",
      logStreamId: "ls1",
      executionId: "exec1",
      ship: true,
    });
    // The torn frame is cut off: the segment is what was written before it.
    expect(readFileSync(join(dir!, segments.at(-1)!))).toEqual(intact);
    expect(seqs(drain(reopened))).toEqual(range(121, 300));
    expect(reopened.done).toBe(true);
  });

  it("past the cap keeps the head and the newest records, with one gap that counts exactly what was dropped", () => {
    const cap = 64 * 1024;
    const spool = newSpool({ maxBytes: cap });
    const sizes = new Map<number, number>();
    for (let i = 1; i <= 3000; i++) {
      const before = spool.stats.bytes;
      spool.append(line(i));
      sizes.set(i, spool.stats.bytes - before);
    }
    spool.flushWrites();
    expect(spool.stats.onDiskBytes).toBeLessThanOrEqual(cap);

    const items = drain(spool, 100, 64 * 1024);
    const gaps = items.filter(isGap) as SpoolGap[];
    expect(gaps).toHaveLength(1);
    const gap = gaps[0]!;
    const gapIndex = items.findIndex(isGap);
    const head = seqs(items.slice(0, gapIndex));
    const tail = seqs(items.slice(gapIndex + 1));
    expect(head).toEqual(range(1, gap.fromSeq - 1));
    expect(tail).toEqual(range(gap.toSeq + 1, 3000));
    expect(gap.records).toBe(gap.toSeq - gap.fromSeq + 1);
    let droppedBytes = 0;
    for (let s = gap.fromSeq; s <= gap.toSeq; s++) droppedBytes += sizes.get(s)!;
    expect(gap.bytes).toBe(droppedBytes);
    const bytesOf = (list: number[]) => list.reduce((sum, s) => sum + sizes.get(s)!, 0);
    // The head is the first half of the cap, the tail the newest records up to the other half.
    expect(bytesOf(head)).toBeLessThanOrEqual(cap / 2);
    expect(bytesOf(head)).toBeGreaterThan(cap / 2 - cap / 16 - 200);
    expect(bytesOf(tail)).toBeLessThanOrEqual(cap / 2 + cap / 16);
    expect(bytesOf(tail)).toBeGreaterThan(cap / 2 - cap / 16 - 200);
    expect(spool.stats).toMatchObject({ droppedRecords: gap.records, droppedBytes: gap.bytes });
  });

  it("never grows a gap the reader already has: a later overflow starts a second gap, and every seq is accounted for", () => {
    const cap = 32 * 1024;
    const spool = newSpool({ maxBytes: cap });
    let n = 0;
    for (; n < 1000; ) spool.append(line(++n));
    spool.flushWrites();
    // The reader takes the head and the gap marker, but does not acknowledge them yet.
    const taken: SpoolItem[] = [];
    while (!taken.some(isGap)) taken.push(...spool.read(10, 1_000_000).items);
    for (; n < 2000; ) spool.append(line(++n));
    spool.flushWrites();
    spool.ack(Math.max(...taken.map((i) => (isGap(i) ? i.toSeq : i.seq))));
    const items = [...taken, ...drain(spool)];
    const gaps = items.filter(isGap) as SpoolGap[];
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    const covered = new Set(seqs(items));
    for (const g of gaps) for (let s = g.fromSeq; s <= g.toSeq; s++) covered.add(s);
    expect([...covered].sort((a, b) => a - b)).toEqual(range(1, 2000));
    expect(seqs(items).length + gaps.reduce((sum, g) => sum + g.records, 0)).toBe(2000);
  });

  it("reopens a capped spool with its gap", () => {
    const root = stateDir();
    const spool = newSpool({ maxBytes: 32 * 1024 }, root);
    for (let i = 1; i <= 1000; i++) spool.append(line(i));
    spool.seal();
    const before = drainCopy(spool);
    const reopened = Spool.open(listSpoolDirs(root)[0]!);
    expect(drain(reopened)).toEqual(before);
  });

  it("ignores appends once sealed and names no file twice", () => {
    const spool = newSpool();
    spool.append(line(1));
    spool.seal();
    expect(spool.append(line(2))).toBe(0);
    expect(spool.lastSeq).toBe(1);
    // One file: the segment's header holds the meta and the ack; being sealed is not persisted.
    expect(readdirSync(spool.dir).sort()).toEqual(["000000000001.seg"]);
    expect(() => Spool.create(spool.dir, CONTEXT)).toThrow(/already exists/);
  });

  it("steps over the sequence numbers of a damaged segment and hands out what follows", () => {
    const root = stateDir();
    const spool = newSpool({ segmentBytes: 4096 }, root);
    for (let i = 1; i <= 200; i++) spool.append(line(i));
    spool.seal();
    const segments = readdirSync(spool.dir)
      .filter((n) => n.endsWith(".seg"))
      .sort();
    expect(segments.length).toBeGreaterThan(3);
    // The second segment loses its tail (a disk problem): its last frame is cut in half.
    const damaged = join(spool.dir, segments[1]!);
    const bytes = readFileSync(damaged);
    writeFileSync(damaged, bytes.subarray(0, bytes.length - 20));
    // The third loses its last frame whole (cut at a frame boundary).
    const cut = join(spool.dir, segments[2]!);
    const third = readFileSync(cut);
    const frames = walkFrames(third, 0, third.length).count;
    writeFileSync(cut, third.subarray(0, walkFrames(third, 0, third.length, frames - 1).end));
    const [thirdFirst, fourthFirst] = [segments[2]!, segments[3]!].map((n) => Number(n.slice(0, 12)));

    const items = drain(Spool.open(listSpoolDirs(root)[0]!));
    // Every record but the two lost ones is handed out, in order, and the reader reaches the end.
    const lost = [thirdFirst! - 1, fourthFirst! - 1];
    expect(seqs(items)).toEqual(range(1, 200).filter((s) => !lost.includes(s)));
  });

  it("converts the NDJSON segments an older runner left, keeping the ack and skipping a torn line", () => {
    const root = stateDir();
    const dir = spoolDir(root, "exec1");
    // The layout an older runner left: meta.json, NDJSON segments and an ack file.
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "meta.json"), JSON.stringify({ ...CONTEXT, createdAtMs: 1 }));
    const records = range(1, 6).map((seq) => ({ seq, ...line(seq) }));
    const ndjson = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    writeFileSync(join(dir, "000000000001.log"), `${ndjson}{"seq":7,"time":1,"lev`);
    writeFileSync(join(dir, "ack"), `${String(2).padStart(20, "0")}\n`);

    const reopened = Spool.open(dir);
    expect(readdirSync(dir).filter((n) => n.endsWith(".log"))).toEqual([]);
    expect([reopened.ackedSeq, reopened.lastSeq]).toEqual([2, 6]);
    expect(drain(reopened)).toEqual(records.slice(2));
  });

  it("reads back a message's fields with their types", () => {
    const spool = newSpool();
    const fields = { n: -5, big: 2 ** 40, ratio: 0.25, ok: false, text: "é ✓" };
    spool.append({ ...line(1), stream: undefined, level: "error", fields });
    spool.append({ ...line(2), fields: { "runner.log.seq": 99, kept: "yes" } });
    spool.flushWrites();
    const [first, second] = drain(spool) as SpoolRecord[];
    expect(first).toEqual({
      seq: 1,
      time: line(1).time,
      level: "error",
      step: "execute",
      msg: line(1).msg,
      fields,
    });
    // A field may not override the record's own attributes.
    expect(second).toMatchObject({ seq: 2, fields: { kept: "yes" } });
  });
});

describe("log spool files", () => {
  it("makes nothing on disk for a job that logs nothing", () => {
    const root = stateDir();
    const spool = newSpool({}, root);
    spool.flushWrites();
    spool.seal();
    expect(spool.done).toBe(true);
    spool.remove();
    expect(readdirSync(root)).toEqual([]);
  });

  it("keeps the ack in the segment's header: a reopened spool resumes after it, and never before", () => {
    const root = stateDir();
    const spool = newSpool({}, root);
    for (let i = 1; i <= 30; i++) spool.append(line(i));
    spool.flushWrites();
    spool.read(12, 1_000_000);
    spool.ack(12);
    spool.seal();
    expect(readdirSync(spool.dir)).toEqual(["000000000001.seg"]);
    const reopened = Spool.open(listSpoolDirs(root)[0]!);
    expect([reopened.ackedSeq, reopened.lastSeq]).toEqual([12, 30]);
    expect(seqs(drain(reopened))).toEqual(range(13, 30));
    // A directory with nothing readable in it (made, then killed before the first record) is no spool.
    const empty = spoolDir(root, "exec2");
    mkdirSync(empty);
    writeFileSync(join(empty, "000000000001.seg"), "");
    expect(() => Spool.open(empty)).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("reuses a done spool's directory for the next spool, which then holds only its own records", () => {
    const root = stateDir();
    const pool = createSpoolDirPool(spoolRoot(root), 4);
    const first = Spool.create(spoolDir(root, "exec1"), CONTEXT, { pool });
    for (let i = 1; i <= 40; i++) first.append(line(i, 200));
    first.seal();
    first.ack(first.read(1000, 10_000_000).lastSeq);
    first.remove();
    expect(pool.size).toBe(1);
    // The free directory holds one empty segment: nothing a restart could read or ship.
    const [free] = readdirSync(spoolRoot(root));
    expect(free).toMatch(/^\.free-/);
    expect(readFileSync(join(spoolRoot(root), free!, "000000000001.seg"))).toHaveLength(0);
    expect(() => Spool.open(join(spoolRoot(root), free!))).toThrow(
      expect.objectContaining({ code: "ENOENT" }),
    );

    const second = Spool.create(spoolDir(root, "exec2"), { ...CONTEXT, executionId: "exec2" }, { pool });
    for (let i = 1; i <= 3; i++) second.append(line(100 + i));
    second.seal();
    expect(pool.size).toBe(0);
    expect(readdirSync(spoolRoot(root))).toEqual(["exec2"]);
    const reopened = Spool.open(spoolDir(root, "exec2"));
    expect(reopened.meta.executionId).toBe("exec2");
    expect((drain(reopened) as SpoolRecord[]).map((r) => r.msg)).toEqual(
      [101, 102, 103].map((i) => line(i).msg),
    );
  });

  it("makes a new directory when the free one is gone, and keeps a free one another directory was in the way of", () => {
    const root = stateDir();
    const pool = createSpoolDirPool(spoolRoot(root), 4);
    const done = (id: string) => {
      const spool = Spool.create(spoolDir(root, id), { ...CONTEXT, executionId: id }, { pool });
      spool.append(line(1));
      spool.seal();
      spool.ack(1);
      spool.remove();
    };
    done("exec1");
    const [free] = readdirSync(spoolRoot(root));
    rmSync(join(spoolRoot(root), free!), { recursive: true });
    expect(pool.take(spoolDir(root, "exec2"))).toBe(false);
    expect(pool.size).toBe(0);
    done("exec2");
    expect(pool.size).toBe(1);
    const inTheWay = spoolDir(root, "exec3");
    mkdirSync(inTheWay, { recursive: true });
    writeFileSync(join(inTheWay, "something-else"), "x");
    expect(pool.take(inTheWay)).toBe(false);
    expect(pool.size).toBe(1);
  });

  it("deletes rather than pools a spool that rolled segments, and a full pool deletes the rest", async () => {
    const root = stateDir();
    const pool = createSpoolDirPool(spoolRoot(root), 1);
    const rolled = Spool.create(spoolDir(root, "exec1"), CONTEXT, { pool, segmentBytes: 4096 });
    for (let i = 1; i <= 200; i++) rolled.append(line(i));
    rolled.seal();
    rolled.remove();
    expect(pool.size).toBe(0);
    for (const id of ["exec2", "exec3"]) {
      const spool = Spool.create(spoolDir(root, id), { ...CONTEXT, executionId: id }, { pool });
      spool.append(line(1));
      spool.seal();
      spool.ack(1);
      spool.remove();
    }
    expect(pool.size).toBe(1);
    await expect.poll(() => readdirSync(spoolRoot(root)).filter((n) => !n.startsWith(".free-"))).toEqual([]);
    pool.clear();
    expect(readdirSync(spoolRoot(root))).toEqual([]);
  });
});

/** Reads everything without acknowledging, then rewinds. */
function drainCopy(spool: Spool): SpoolItem[] {
  const out: SpoolItem[] = [];
  for (;;) {
    const batch = spool.read(100, 1_000_000);
    if (batch.items.length === 0) break;
    out.push(...batch.items);
  }
  spool.rewind();
  return out;
}
