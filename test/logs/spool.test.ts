import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isGap, type SpoolGap, type SpoolItem, type SpoolRecord } from "../../src/logs/otlp-records.ts";
import { listSpoolDirs, Spool, type SpoolOptions, spoolDir } from "../../src/logs/spool.ts";

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
    const segments = readdirSync(spool.dir).filter((n) => n.endsWith(".log"));
    expect(segments.length).toBeGreaterThan(10);
    const items = drain(spool, 37, 5000);
    expect(seqs(items)).toEqual(range(1, 1000));
    expect((items[41] as SpoolRecord).msg).toBe(`line 42 ${"x".repeat(80)}`);
    // Acknowledged segments are deleted; the active one stays.
    expect(readdirSync(spool.dir).filter((n) => n.endsWith(".log"))).toHaveLength(1);
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
    const segments = readdirSync(first.dir)
      .filter((n) => n.endsWith(".log"))
      .sort();
    appendFileSync(join(first.dir, segments.at(-1)!), '{"seq":301,"time":1,"lev'); // a write cut by kill -9

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
    const last = readFileSync(join(dir!, segments.at(-1)!), "utf8");
    expect(last.endsWith("\n")).toBe(true);
    expect(seqs(drain(reopened))).toEqual(range(121, 300));
    expect(reopened.done).toBe(true);
  });

  it("past the cap keeps the head and the newest records, with one gap that counts exactly what was dropped", () => {
    const cap = 64 * 1024;
    const spool = newSpool({ maxBytes: cap });
    const sizes = new Map<number, number>();
    for (let i = 1; i <= 3000; i++) {
      spool.append(line(i));
      sizes.set(i, Buffer.byteLength(`${JSON.stringify({ seq: i, ...line(i) })}\n`));
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
    expect(readdirSync(spool.dir).sort()).toEqual(["000000000001.log", "meta.json", "sealed"]);
    expect(() => Spool.create(spool.dir, CONTEXT)).toThrow(/already exists/);
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
