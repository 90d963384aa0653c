/**
 * run-local in process: the real agent against the embedded control plane (or one the test starts, through
 * its admin API), with noop jobs so each run takes well under a second.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunLocalSettings, runLocalSession } from "../../src/dev/session.ts";
import type { AnyRunEvent } from "../../src/events/events.ts";
import { startControlPlane } from "../../src/mock-control-plane/server.ts";
import { readRecordFile, recordPath } from "../../src/records/record-store.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "run-local-session-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sink() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return { stream, text: () => text };
}

async function runJobs(yaml: string, over: Partial<RunLocalSettings> = {}, signal?: AbortSignal) {
  const file = path.join(dir, "jobs.yaml");
  await writeFile(file, yaml);
  const stdout = sink();
  const stderr = sink();
  const runId = over.runId ?? `run-${Math.random().toString(16).slice(2, 8)}`;
  const code = await runLocalSession(
    {
      jobFiles: [file],
      cwd: dir,
      stateDir: path.join(dir, "state"),
      failFast: false,
      timeoutMs: 20_000,
      concurrency: 4,
      logLevel: "info",
      record: true,
      output: "text",
      runId,
      ...over,
    },
    { stdout: stdout.stream, stderr: stderr.stream, ...(signal ? { signal } : {}) },
  );
  const record =
    over.record === false
      ? undefined
      : await readRecordFile(recordPath(path.join(dir, "state"), runId)).catch(() => undefined);
  return { code, stdout: stdout.text(), stderr: stderr.text(), record };
}

const seqOf = (events: AnyRunEvent[], type: string, job: string) =>
  events.find((e) => e.type === type && (e.data as { job?: string }).job === job)?.seq ?? -1;

describe("run-local (in process)", () => {
  it("enqueues a job only once the jobs it depends on finished", async () => {
    const { code, record } = await runJobs(`jobs:
  - {name: c, type: noop, depends_on: [b]}
  - {name: a, type: noop, plan: {sleep_ms: 150}}
  - {name: b, type: noop, depends_on: [a]}
  - {name: d, type: noop}
`);
    expect(code).toBe(0);
    const events = record!.events;
    expect(seqOf(events, "job:enqueued", "b")).toBeGreaterThan(seqOf(events, "job:finished", "a"));
    expect(seqOf(events, "job:enqueued", "c")).toBeGreaterThan(seqOf(events, "job:finished", "b"));
    expect(seqOf(events, "job:enqueued", "d")).toBeLessThan(seqOf(events, "job:finished", "a"));
    expect(record!.jobs.map((j) => [j.name, j.status])).toEqual([
      ["c", "finished"],
      ["a", "finished"],
      ["b", "finished"],
      ["d", "finished"],
    ]);
    expect(record!.status).toBe("success");
  });

  it("with --fail-fast cancels the running job and does not start the rest", async () => {
    const { code, record, stdout } = await runJobs(
      await readFile(path.join(import.meta.dirname, "fixtures/fail-fast.yaml"), "utf8"),
      { failFast: true },
    );
    expect(code).toBe(1);
    expect(record!.jobs.map((j) => [j.name, j.status])).toEqual([
      ["breaks", "failed"],
      ["slow", "cancelled"],
      ["after-slow", "cancelled"],
    ]);
    expect(record!.reason).toMatch(/fail-fast: job "breaks" failed/);
    expect(stdout).toContain("breaks failed at step execute: the build broke");
  });

  it("without --fail-fast lets the other jobs run after a failure", async () => {
    const { code, record } = await runJobs(
      await readFile(path.join(import.meta.dirname, "fixtures/fail-fast.yaml"), "utf8"),
    );
    expect(code).toBe(1);
    expect(record!.jobs.map((j) => [j.name, j.status])).toEqual([
      ["breaks", "failed"],
      ["slow", "finished"],
      ["after-slow", "finished"],
    ]);
    expect(record!.status).toBe("failure");
  });

  it("stops at the run's timeout, cancelling what runs", async () => {
    const { code, record } = await runJobs(
      "jobs:\n  - {name: sleepy, type: noop, plan: {sleep_ms: 15000}}\n",
      {
        timeoutMs: 700,
      },
    );
    expect(code).toBe(1);
    expect(record).toMatchObject({ status: "timed-out", exitCode: 1 });
    expect(record!.jobs[0]?.status).toBe("cancelled");
  });

  it("when interrupted cancels the jobs, writes the record and exits 130", async () => {
    const interrupt = new AbortController();
    setTimeout(() => interrupt.abort("interrupted by SIGINT"), 600);
    const { code, record } = await runJobs(
      "jobs:\n  - {name: sleepy, type: noop, plan: {sleep_ms: 15000}}\n  - {name: later, type: noop, depends_on: [sleepy]}\n",
      {},
      interrupt.signal,
    );
    expect(code).toBe(130);
    expect(record).toMatchObject({ status: "interrupted", exitCode: 130, reason: "interrupted by SIGINT" });
    expect(record!.jobs.map((j) => j.status)).toEqual(["cancelled", "cancelled"]);
  });

  it("when interrupted before the first job starts, starts none", async () => {
    const interrupt = new AbortController();
    interrupt.abort("interrupted by SIGTERM");
    const { code, record } = await runJobs("jobs:\n  - {name: a, type: noop}\n", {}, interrupt.signal);
    expect(code).toBe(130);
    expect(record!.jobs[0]).toMatchObject({
      status: "cancelled",
      error: "not started: interrupted by SIGTERM",
    });
    expect(record!.events.some((e) => e.type === "job:enqueued")).toBe(false);
  });

  it("writes every event to --events as NDJSON, in sequence", async () => {
    const eventsFile = path.join(dir, "events.ndjson");
    const { code } = await runJobs("jobs:\n  - {name: a, type: noop}\n", { eventsFile });
    expect(code).toBe(0);
    const events = (await readFile(eventsFile, "utf8"))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as AnyRunEvent);
    expect(events[0]?.type).toBe("run:started");
    expect(events.at(-1)?.type).toBe("run:finished");
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        "job:enqueued",
        "job:status",
        "step:status",
        "job:log",
        "job:finished",
        "job:snapshot",
      ]),
    );
  });

  it("with --no-record writes no record", async () => {
    const { code } = await runJobs("jobs:\n  - {name: a, type: noop}\n", { record: false });
    expect(code).toBe(0);
    expect((await readdir(path.join(dir, "state", "runs"))).filter((f) => f.endsWith(".json"))).toEqual([]);
  });

  it("runs against an existing control plane through its admin API", async () => {
    const cp = await startControlPlane({ adminToken: "admin-token-for-test" });
    try {
      const { code, record } = await runJobs(
        "jobs:\n  - {name: a, type: noop}\n  - {name: b, type: noop, depends_on: [a], plan: {fail_message: nope}}\n",
        { apiUrl: cp.url, adminToken: "admin-token-for-test" },
      );
      expect(code).toBe(1);
      expect(record!.jobs.map((j) => [j.name, j.status, j.error])).toEqual([
        ["a", "finished", undefined],
        ["b", "failed", "nope"],
      ]);
      expect(record!.settings.controlPlane).toBe(cp.url);
      expect(cp.admin.listJobs().map((j) => j.status)).toEqual(["failed", "finished"]);
    } finally {
      await cp.close();
    }
  });

  it("exits 2 when the existing control plane refuses the admin token", async () => {
    const cp = await startControlPlane({ adminToken: "admin-token-for-test" });
    try {
      const { code, stderr } = await runJobs("jobs:\n  - {name: a, type: noop}\n", {
        apiUrl: cp.url,
        adminToken: "wrong",
      });
      expect(code).toBe(2);
      expect(stderr).toMatch(/refused the admin token \(HTTP 401\)/);
    } finally {
      await cp.close();
    }
  });
});
