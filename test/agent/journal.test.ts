import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BACKGROUND_SYNC_DELAY_MS,
  createJournal,
  JournalLockedError,
  readJournal,
} from "../../src/agent/journal.ts";
import { crc32Hex, decodeSlot, encodeSlot } from "../../src/agent/journal-slots.ts";
import { RESTART_MESSAGE, recoveredOutcome } from "../../src/agent/recover.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-journal-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (n: number) => ({
  jobId: `job-${n}`,
  executionId: `exec-${n}`,
  jobType: "noop",
  startedAt: "2026-01-01T00:00:00.000Z",
  pid: 4242,
});

describe("journal", () => {
  it("persists held executions so a new process finds what the old one held", async () => {
    const first = createJournal({ dir });
    expect(await first.open()).toEqual([]);
    await first.add(entry(1));
    await first.add(entry(2));
    await first.remove("exec-1");
    // simulate kill -9: no close(), but the lock holder is dead — write a lock naming a dead pid
    await writeFile(
      `${first.path}.lock`,
      JSON.stringify({ pid: 2 ** 22 + 17, hostname: (await import("node:os")).hostname() }),
    );
    const second = createJournal({ dir });
    expect(await second.open()).toEqual([entry(2)]);
    await second.close();
    await first.close(); // its file handles (a killed process's would close with it); the lock is gone already
  });

  it("writes its two slots in place, in turn: no other file is made, and the newest slot holds every change", async () => {
    const journal = createJournal({ dir });
    await journal.open();
    await Promise.all([1, 2, 3, 4, 5].map((n) => journal.add(entry(n))));
    await journal.setOutcome("exec-3", { status: "finished", result: { success: true } });
    const held = await readJournal(journal.path);
    expect(held).toHaveLength(5);
    expect(held[2]?.outcome).toEqual({ status: "finished", result: { success: true } });
    expect((await readdir(dir)).sort()).toEqual(["journal.0", "journal.1", "journal.lock"]);
    // the slot written before the last one still holds the state before it
    const slots = await Promise.all([0, 1].map((i) => readFile(`${journal.path}.${i}`)));
    const reads = slots.map((data) => decodeSlot(data));
    expect(reads.every((r) => r.kind === "valid")).toBe(true);
    await journal.close();
  });

  it("checksums slots with the CRC-32 zlib computes", () => {
    for (const text of ["", "a", "hello journal ✓", "x".repeat(10_000)]) {
      const bytes = Buffer.from(text);
      expect(crc32Hex(bytes)).toBe(crc32(bytes).toString(16).padStart(8, "0"));
    }
  });

  it("keeps the previous state when the newest slot is torn (a write cut short), and starts empty when both are", async () => {
    const first = createJournal({ dir });
    await first.open();
    await first.add(entry(1));
    await first.add(entry(2));
    await first.close();
    // find the newest slot and cut it in the middle of its body
    const datas = await Promise.all([0, 1].map((i) => readFile(join(dir, `journal.${i}`))));
    const seqs = datas.map((d) => {
      const r = decodeSlot(d);
      return r.kind === "valid" ? r.content.seq : -1;
    });
    const newest = seqs[0]! > seqs[1]! ? 0 : 1;
    const torn = datas[newest]!;
    await writeFile(join(dir, `journal.${newest}`), torn.subarray(0, torn.length - 5));
    const second = createJournal({ dir });
    expect((await second.open()).map((e) => e.executionId)).toEqual(["exec-1"]);
    await second.close();
    // both spoiled (two unsynced writes torn by a power loss): start with nothing held, keep the files aside
    await writeFile(join(dir, "journal.0"), "garbage\n");
    await writeFile(join(dir, "journal.1"), "runner-journal 2 9 4 00000000\nabcd");
    const lost: string[] = [];
    const third = createJournal({ dir, onLostWrites: (_path, detail) => lost.push(detail) });
    expect(await third.open()).toEqual([]);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/journal\.0: not a journal slot \(kept as .*journal\.0\.spoiled-/);
    expect(lost[0]).toMatch(/journal\.1: the body does not match its checksum \(kept as /);
    expect((await readdir(dir)).filter((f) => f.includes(".spoiled-"))).toHaveLength(2);
    await third.add(entry(3));
    await third.close();
    expect((await readJournal(join(dir, "journal"))).map((e) => e.executionId)).toEqual(["exec-3"]);
  });

  it("group-commits: changes made in one tick, or while a write is in flight, share one durable write", async () => {
    const journal = createJournal({ dir });
    await journal.open();
    await Promise.all(Array.from({ length: 20 }, (_, i) => journal.add(entry(i))));
    expect(journal.writes).toBe(1);
    const first = journal.add(entry(20));
    await new Promise((resolve) => setImmediate(resolve)); // that write is in flight now
    const during = Array.from({ length: 9 }, (_, i) => journal.remove(`exec-${i}`));
    await Promise.all([first, ...during]);
    expect(journal.writes).toBeLessThanOrEqual(3);
    // every change a call waited for is in the file
    expect((await readJournal(journal.path)).map((e) => e.jobId)).toEqual(
      Array.from({ length: 12 }, (_, i) => `job-${i + 9}`),
    );
    await journal.close();
  });

  it("refuses a second live process on the same state directory", async () => {
    const first = createJournal({ dir });
    await first.open();
    const { hostname } = await import("node:os");
    // the lock names a live process that is not us: our parent
    await writeFile(`${first.path}.lock`, JSON.stringify({ pid: process.ppid, hostname: hostname() }));
    await expect(createJournal({ dir }).open()).rejects.toBeInstanceOf(JournalLockedError);
    await first.close();
  });

  it("background sync: a change is on disk for the next process once the call resolves, even after kill -9", async () => {
    const module = new URL("../../src/agent/journal.ts", import.meta.url).href;
    const script = `
      const { createJournal } = await import(${JSON.stringify(module)});
      const journal = createJournal({ dir: process.argv[1], sync: "background" });
      await journal.open();
      await journal.add({ jobId: "job-k", executionId: "exec-k", startedAt: "2026-01-01T00:00:00.000Z", pid: process.pid });
      process.stdout.write("added\\n");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("added")) resolve();
      });
      child.once("exit", () => reject(new Error("the child exited before adding")));
    });
    child.kill("SIGKILL"); // at once: whatever fsync was still to come never runs
    await exited;
    const next = createJournal({ dir });
    const held = await next.open();
    expect(held.map((e) => e.executionId)).toEqual(["exec-k"]);
    await next.close();
  });

  it("background sync fsyncs after the writes, off their path; always fsyncs each write before it resolves", async () => {
    const background = createJournal({ dir, fileName: "bg" });
    await background.open();
    for (let i = 1; i <= 6; i++) await background.add(entry(i)); // each resolves once written, not synced
    expect(background.writes).toBe(6);
    await new Promise((resolve) => setTimeout(resolve, BACKGROUND_SYNC_DELAY_MS * 5));
    // the writes made within the delay shared their fdatasync
    expect(background.syncs).toBeGreaterThanOrEqual(1);
    expect(background.syncs).toBeLessThan(background.writes);
    await background.add(entry(7));
    await background.close(); // syncs what the delay still held
    expect(background.syncs).toBeGreaterThanOrEqual(2);
    const always = createJournal({ dir, fileName: "always.json", sync: "always" });
    await always.open();
    await always.add(entry(1));
    await always.add(entry(2));
    expect(always.syncs).toBe(always.writes);
    expect(always.writes).toBe(2);
    await always.close();
  });

  it("reads empty slots (writes lost to a power loss before their sync) as nothing held, and says so", async () => {
    const quiet: string[] = [];
    const fresh = createJournal({ dir, onLostWrites: (path) => quiet.push(path) });
    await fresh.open();
    await fresh.close();
    const again = createJournal({ dir, onLostWrites: (path) => quiet.push(path) });
    await again.open(); // a start that found what the previous start wrote: no warning
    await again.close();
    expect(quiet).toEqual([]);
    await writeFile(join(dir, "journal.0"), "");
    await writeFile(join(dir, "journal.1"), Buffer.alloc(4096));
    const seen: string[] = [];
    const journal = createJournal({ dir, onLostWrites: (path) => seen.push(path) });
    expect(await journal.open()).toEqual([]);
    expect(seen).toEqual([join(dir, "journal")]);
    await journal.close();
  });

  it("stops the start, naming the slot, when a valid slot's body is not a journal", async () => {
    await writeFile(join(dir, "journal.0"), encodeSlot(5, JSON.stringify({ entries: [{ jobId: 7 }] })));
    await expect(createJournal({ dir }).open()).rejects.toThrow(
      /the journal .*journal\.0 is unreadable; move its files away to start without it/,
    );
  });

  it("reports a leftover without outcome as failed at step restart, and a leftover with one as it was", () => {
    expect(recoveredOutcome(entry(1))).toEqual({
      status: "failed",
      result: {
        success: false,
        errorCode: 0,
        errorMetadata: { step: "restart", handler: "noop", job_type: "noop", message: RESTART_MESSAGE },
      },
    });
    const done = { status: "finished" as const, result: { success: true } };
    expect(recoveredOutcome({ ...entry(1), outcome: done })).toEqual(done);
  });
});
