import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { encodeLogsBatch } from "../../src/logs/logs-encoder.ts";
import { runnerResource, type SpoolItem } from "../../src/logs/otlp-records.ts";
import { LogStore } from "../../src/mock-control-plane/log-store.ts";
import { STATE_FILE_NAME } from "../../src/mock-control-plane/persistence.ts";
import { SeqRanges } from "../../src/mock-control-plane/seq-ranges.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";
import { encodeLogsRequest, type LogsRequest } from "../../src/otlp/logs-proto.ts";
import { scanLogsRequest } from "../../src/otlp/logs-scan.ts";
import { call, withRunner } from "./helpers.ts";

let cp: EmbeddedControlPlane | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cp?.close();
  cp = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cp-logs-"));
  dirs.push(dir);
  return dir;
}

const RESOURCE = runnerResource({ runnerId: "run1", version: "t" });

/** A runner's batch: records `from`…`to` of an execution, as the shipper encodes them. */
function runnerBatch(executionId: string, from: number, to: number, extra: SpoolItem[] = []): Buffer {
  const items: SpoolItem[] = [];
  for (let seq = from; seq <= to; seq++) {
    items.push({ seq, time: 1_700_000_000_000 + seq, level: "info", step: "execute", msg: `line ${seq}` });
  }
  const ctx = { jobId: "rjb1", jobType: "noop", logStreamId: "lst1", executionId };
  return Buffer.from(encodeLogsBatch(RESOURCE, ctx, [...items, ...extra]));
}

const seqOf = (r: { attributes: Record<string, unknown> }) => r.attributes["runner.log.seq"];
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function batch(jobId: string, lines: string[]): LogsRequest {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "runner" } }] },
        scopeLogs: [
          {
            scope: { name: "oteljob" },
            logRecords: lines.map((line, i) => ({
              timeUnixNano: BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + BigInt(i),
              severityNumber: 9,
              severityText: "INFO",
              body: { stringValue: line },
              attributes: [
                { key: "runner_job.id", value: { stringValue: jobId } },
                { key: "runner_job_execution_step.name", value: { stringValue: "execute" } },
              ],
            })),
          },
        ],
      },
    ],
  };
}

const PROTOBUF = { "content-type": "application/x-protobuf" };

describe("job log streams", () => {
  it("decodes an OTLP protobuf body and stores the records with their attributes on the job", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const res = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: encodeLogsRequest(batch(job.id, ["one", "two"])),
      headers: PROTOBUF,
    });
    expect(res.status).toBe(201);
    expect(res.json).toBe("ok");
    const gz = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: gzipSync(encodeLogsRequest(batch(job.id, ["three"]))),
      headers: { ...PROTOBUF, "content-encoding": "gzip" },
    });
    expect(gz.status).toBe(201);
    const logs = ctx.cp.admin.getJob(job.id)?.logs ?? [];
    expect(logs.map((r) => r.body)).toEqual(["one", "two", "three"]);
    expect(logs[0]).toMatchObject({
      time: "2026-01-01T00:00:00.000Z",
      severityText: "INFO",
      attributes: { "runner_job.id": job.id, "runner_job_execution_step.name": "execute" },
      resource: { "service.name": "runner" },
      scope: { name: "oteljob" },
    });
  });

  it("rejects a malformed body with 400 and stores nothing", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const truncated = encodeLogsRequest(batch(job.id, ["a line long enough to cut"])).slice(0, 20);
    const res = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: truncated,
      headers: PROTOBUF,
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: "invalid request",
      description: expect.stringMatching(/^body: invalid OTLP/),
    });
    const json = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, { body: { resourceLogs: [] } });
    expect(json.status).toBe(400);
    expect(ctx.cp.admin.getJob(job.id)?.logs).toEqual([]);
  });

  it("refuses another runner's log stream and an unknown one", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const other = ctx.cp.admin.createRunner();
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const body = encodeLogsRequest(batch(job.id, ["x"]));
    const forbidden = await call(`${ctx.cp.url}/v1/log-streams/${job.log_stream_id}/logs`, {
      token: other.token,
      body,
      headers: PROTOBUF,
    });
    expect(forbidden.status).toBe(403);
    const unknown = await ctx.as("/v1/log-streams/lstnope/logs", { body, headers: PROTOBUF });
    expect(unknown.status).toBe(404);
  });

  it("wakes waitForJob when logs arrive", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const waiting = ctx.cp.waitForJob(job.id, (j) => j.logs.some((r) => r.body === "done"), 2_000);
    await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: encodeLogsRequest(batch(job.id, ["done"])),
      headers: PROTOBUF,
    });
    expect((await waiting).logs).toHaveLength(1);
  });

  it("stores each execution's sequence number once: a re-sent batch is answered 201 and dropped", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const post = (body: Buffer) =>
      ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, { body, headers: PROTOBUF });
    expect((await post(runnerBatch("rje1", 1, 3))).status).toBe(201);
    // The batch that was in flight when the runner was killed, sent again; then one that overlaps it.
    expect((await post(runnerBatch("rje1", 1, 3))).status).toBe(201);
    expect((await post(runnerBatch("rje1", 3, 5))).status).toBe(201);
    // Another execution of the job has its own sequence numbers.
    expect((await post(runnerBatch("rje2", 1, 2))).status).toBe(201);
    const detail = ctx.cp.admin.getJob(job.id)!;
    expect(detail.logs.map((r) => [r.attributes["runner_job_execution.id"], seqOf(r)])).toEqual([
      ...range(1, 5).map((seq) => ["rje1", seq]),
      ["rje2", 1],
      ["rje2", 2],
    ]);
    expect(detail.logStats).toEqual({
      requests: 3,
      records: 7,
      kept: 7,
      evicted: 0,
      duplicates: 4,
      duplicateRequests: 2,
      executions: {
        rje1: { lastSeq: 5, received: 5, droppedByRunner: 0, missing: 0 },
        rje2: { lastSeq: 2, received: 2, droppedByRunner: 0, missing: 0 },
      },
    });
  });

  it("counts a drop marker's range once and reports sequence numbers nobody accounted for as missing", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const post = (body: Buffer) =>
      ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, { body, headers: PROTOBUF });
    const marker: SpoolItem = { fromSeq: 3, toSeq: 9, records: 7, bytes: 700, time: 1_700_000_000_000 };
    await post(runnerBatch("rje1", 1, 2, [marker]));
    await post(runnerBatch("rje1", 1, 2, [marker]));
    await post(runnerBatch("rje1", 12, 12));
    const detail = ctx.cp.admin.getJob(job.id)!;
    expect(detail.logs).toHaveLength(4);
    expect(detail.logStats.executions.rje1).toEqual({
      lastSeq: 12,
      received: 3,
      droppedByRunner: 7,
      missing: 2, // 10 and 11
    });
    expect(detail.logStats.duplicates).toBe(3);
  });

  it("keeps the newest records past the cap, counts what it evicted, and still knows their sequence numbers", () => {
    const store = new LogStore({ maxRecordsPerStream: 10 });
    const append = (body: Buffer) => store.append("lst1", body, scanLogsRequest(body));
    for (let from = 1; from <= 25; from += 6) append(runnerBatch("rje1", from, from + 5));
    expect(store.records("lst1").map(seqOf)).toEqual(range(21, 30));
    expect(store.stats("lst1")).toMatchObject({ records: 30, kept: 10, evicted: 20 });
    // An evicted record sent again is still a duplicate.
    expect(append(runnerBatch("rje1", 1, 2))).toEqual({ stored: 0, duplicates: 2 });
    expect(store.records("lst1").map(seqOf)).toEqual(range(21, 30));
    expect(store.stats("lst1").executions.rje1).toEqual({
      lastSeq: 30,
      received: 30,
      droppedByRunner: 0,
      missing: 0,
    });
  });

  it("keeps records and sequence numbers across a restart, cutting a torn last write", async () => {
    const dir = tempDir();
    const ctx = await withRunner({ stateDir: dir });
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const path = `/v1/log-streams/${job.log_stream_id}/logs`;
    await ctx.as(path, { body: runnerBatch("rje1", 1, 100), headers: PROTOBUF });
    await ctx.cp.close();
    // A control plane killed while appending leaves a partial frame behind.
    const [file] = readdirSync(join(dir, "logs"));
    appendFileSync(join(dir, "logs", file!), Buffer.from([0xff, 0xff, 0, 0, 1, 2, 3]));

    cp = await startControlPlane({ stateDir: dir, port: ctx.cp.port });
    expect(cp.admin.getJob(job.id)!.logs.map(seqOf)).toEqual(range(1, 100));
    const again = await ctx.as(path, { body: runnerBatch("rje1", 51, 150), headers: PROTOBUF });
    expect(again.status).toBe(201);
    const detail = cp.admin.getJob(job.id)!;
    expect(detail.logs.map(seqOf)).toEqual(range(1, 150));
    expect(detail.logStats).toMatchObject({ records: 150, duplicates: 50, duplicateRequests: 1 });
  });

  it("moves the decoded records of a snapshot written before log files into the log store", async () => {
    const dir = tempDir();
    const ctx = await withRunner({ stateDir: dir });
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    await ctx.cp.close();
    const legacy = {
      time: "2023-11-14T22:13:20.000Z",
      timeUnixNano: "1700000000000000000",
      severityNumber: 9,
      severityText: "INFO",
      body: "from an old snapshot",
      attributes: { "runner.log.seq": 1, "runner_job_execution.id": "rje1", n: 1.5, ok: true, tags: ["a"] },
      resource: { "service.name": "runner" },
      scope: { name: "runner.job" },
    };
    const snapshotPath = join(dir, STATE_FILE_NAME);
    const snapshot = JSON.parse(readFileSync(snapshotPath, "utf8"));
    snapshot.logStreams = snapshot.logStreams.map((s: { id: string }) =>
      s.id === job.log_stream_id ? { ...s, records: [legacy] } : s,
    );
    writeFileSync(snapshotPath, JSON.stringify(snapshot));

    cp = await startControlPlane({ stateDir: dir });
    expect(cp.admin.getJob(job.id)!.logs).toEqual([legacy]);
    await cp.close();
    cp = await startControlPlane({ stateDir: dir });
    expect(cp.admin.getJob(job.id)!.logs).toEqual([legacy]);
    expect(cp.admin.getJob(job.id)!.logStats.executions.rje1).toMatchObject({ lastSeq: 1, received: 1 });
  });
});

describe("sequence ranges", () => {
  it("merges ranges added in any order and says how many numbers were new", () => {
    const seen = new SeqRanges();
    expect(seen.add(1, 5)).toBe(5);
    expect(seen.add(6)).toBe(1);
    expect(seen.add(10, 12)).toBe(3);
    expect(seen.add(4, 11)).toBe(3); // 7, 8, 9
    expect(seen.ranges()).toEqual([[1, 12]]);
    expect(seen.add(20, 20)).toBe(1);
    expect(seen.add(15, 16)).toBe(2);
    expect(seen.add(14, 21)).toBe(5); // 14, 17, 18, 19, 21
    expect(seen.ranges()).toEqual([
      [1, 12],
      [14, 21],
    ]);
    expect([seen.covered, seen.max]).toEqual([20, 21]);
  });
});
