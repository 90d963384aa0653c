import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AnyRunEvent } from "../../src/events/events.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import {
  createRecordWriter,
  findRecord,
  listRecords,
  newRunId,
  RecordError,
  readRecordFile,
  recordPath,
  writeRecord,
} from "../../src/records/record-store.ts";
import { applyEvent, type RunRecord } from "../../src/records/run-record.ts";
import { clockedBus, iso, playRun } from "./support/sample-run.ts";

function recordOf(opts: Parameters<typeof playRun>[2] = {}): RunRecord {
  const { bus, at } = clockedBus();
  let record: RunRecord | undefined;
  bus.onAny((e) => {
    record = applyEvent(record, e);
  });
  playRun(bus, at, opts);
  return record!;
}

describe("applyEvent", () => {
  it("builds the jobs, their steps with start, end, duration and status, and the outcome", () => {
    const r = recordOf();
    expect(r).toMatchObject({
      runId: "r1",
      status: "failure",
      exitCode: 1,
      durationMs: 2000,
      reason: "test failed",
    });
    expect(r.startedAt).toBe(iso(0));
    expect(r.endedAt).toBe(iso(2000));
    const [build, test] = r.jobs;
    expect(build).toMatchObject({
      name: "build",
      status: "finished",
      jobId: "j1",
      durationMs: 900,
      outputs: { out: "v" },
    });
    expect(build?.startedAt).toBe(iso(100));
    expect(build?.steps).toEqual([
      {
        name: "initializing",
        kind: "phase",
        status: "finished",
        startedAt: iso(100),
        endedAt: iso(300),
        durationMs: 200,
      },
      {
        name: "in-progress",
        kind: "phase",
        status: "finished",
        startedAt: iso(300),
        endedAt: iso(1000),
        durationMs: 700,
      },
    ]);
    expect(test).toMatchObject({
      status: "failed",
      failedStep: "unit",
      error: "bash exited with code 3",
      lastLog: "running tests",
    });
    expect(test?.steps).toEqual([
      {
        name: "unit",
        kind: "action",
        status: "error",
        startedAt: iso(1200),
        endedAt: iso(1500),
        durationMs: 300,
      },
    ]);
    expect(Object.keys(r.snapshots)).toEqual(["build"]);
    expect(r.events.map((e) => e.seq)).toEqual(r.events.map((_, i) => i + 1));
  });

  it("ignores events before run:started", () => {
    const event = {
      seq: 1,
      time: iso(0),
      type: "job:enqueued",
      data: { job: "a", jobId: "j", type: "noop" },
    } as AnyRunEvent;
    expect(applyEvent(undefined, event)).toBeUndefined();
  });

  it("keeps at most the configured number of log events per job and counts the rest", () => {
    const r = recordOf();
    const log = (seq: number, line: string) =>
      ({
        seq,
        time: iso(0),
        type: "job:log",
        data: { job: "test", jobId: "j2", level: "info", line, source: "agent" },
      }) as AnyRunEvent;
    for (let i = 0; i < 5; i += 1) applyEvent(r, log(100 + i, `line ${i}`), { maxLogEventsPerJob: 3 });
    expect(r.events.filter((e) => e.type === "job:log")).toHaveLength(3);
    expect(r.droppedEvents).toBe(3);
    expect(r.jobs[1]?.lastLog).toBe("line 4");
  });
});

describe("the record store", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "records-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes atomically (no temporary file left), 0600, and reads the record back", async () => {
    const r = recordOf();
    const file = await writeRecord(dir, r);
    expect(file).toBe(recordPath(dir, "r1"));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(path.dirname(file))).toEqual(["r1.json"]);
    expect(await readRecordFile(file)).toEqual(JSON.parse(JSON.stringify(r)));
  });

  it("lists records oldest first, skipping files that are not records, and finds latest, ids and prefixes", async () => {
    const older = { ...recordOf({ runId: "20260101-000000-aaaa" }), startedAt: "2026-01-01T00:00:00.000Z" };
    const newer = { ...recordOf({ runId: "20260102-000000-bbbb" }), startedAt: "2026-01-02T00:00:00.000Z" };
    await writeRecord(dir, newer);
    await writeRecord(dir, older);
    await writeFile(path.join(dir, "runs", "junk.json"), "{}");
    expect((await listRecords(dir)).map((r) => r.runId)).toEqual([
      "20260101-000000-aaaa",
      "20260102-000000-bbbb",
    ]);
    expect((await findRecord(dir, "latest")).runId).toBe("20260102-000000-bbbb");
    expect((await findRecord(dir, "20260101")).runId).toBe("20260101-000000-aaaa");
    await expect(findRecord(dir, "2026")).rejects.toThrow(/matches 2 runs/);
    await expect(findRecord(dir, "nope")).rejects.toBeInstanceOf(RecordError);
    await expect(findRecord(path.join(dir, "empty"), "latest")).rejects.toThrow(/no runs are recorded/);
  });

  it("refuses a file that is not a run record, naming the field", async () => {
    const file = path.join(dir, "x.json");
    await writeFile(file, JSON.stringify({ version: 1, runId: 3 }));
    await expect(readRecordFile(file)).rejects.toThrow(/runId/);
  });

  it("makes sortable run ids", () => {
    expect(newRunId(new Date("2026-03-04T05:06:07Z"), () => 0.5)).toBe("20260304-050607-8000");
  });

  it("the writer saves at the start, after jobs and at the end, redacting what it keeps", async () => {
    const { bus, at } = clockedBus();
    const redactor = createRedactor();
    redactor.add("s3cr3t-token-value");
    const writer = createRecordWriter({ stateDir: dir, bus, redactor });
    playRun(bus, at);
    bus.emit("job:log", {
      job: "test",
      jobId: "j2",
      level: "info",
      line: "token=s3cr3t-token-value",
      source: "agent",
    });
    await writer.close();
    const text = await readFile(recordPath(dir, "r1"), "utf8");
    expect(text).not.toContain("s3cr3t-token-value");
    const saved = JSON.parse(text) as RunRecord;
    expect(saved.status).toBe("failure");
    expect(saved.events.at(-1)?.type).toBe("job:log");
    expect(writer.path).toBe(recordPath(dir, "r1"));
  });

  it("the writer with write: false keeps the record in memory only", async () => {
    const { bus, at } = clockedBus();
    const writer = createRecordWriter({ stateDir: dir, bus, write: false });
    playRun(bus, at);
    await writer.close();
    expect(writer.record?.status).toBe("failure");
    expect(writer.path).toBeUndefined();
    await expect(readdir(dir)).resolves.toEqual([]);
  });
});
