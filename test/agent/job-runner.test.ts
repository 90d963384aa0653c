/**
 * The job runner's ordering promises, with a real journal on disk whose writes a test can hold: no step runs
 * before the claim is durable, the terminal outcome is durable before the control plane hears it, and the
 * slot is free once the outcome is delivered (forgetting the job in the journal follows on its own).
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCancelWatch } from "../../src/agent/cancel-watch.ts";
import type { ClaimedJob } from "../../src/agent/job-loop.ts";
import { createJobRunner } from "../../src/agent/job-runner.ts";
import { createJournal, type Journal } from "../../src/agent/journal.ts";
import { createAgentMetrics } from "../../src/agent/metrics.ts";
import { createWorkerPool } from "../../src/agent/worker-pool.ts";
import type { Job } from "../../src/control-plane/schemas.ts";
import type { JobHandler, RunnerState } from "../../src/jobs/handler.ts";
import { openJobLog } from "../../src/logs/job-log.ts";
import { runnerResource } from "../../src/logs/otlp-records.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import { createShipper, type Shipper } from "../../src/logs/shipper.ts";
import { spoolRoot } from "../../src/logs/spool.ts";
import { decodeLogsRequest } from "../../src/otlp/logs-proto.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

const dirs: string[] = [];
const shippers: Shipper[] = [];
const journals: Journal[] = [];
afterEach(async () => {
  await Promise.all(shippers.splice(0).map((s) => s.close()));
  await Promise.all(journals.splice(0).map((j) => j.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const runnerState: RunnerState = {
  processType: "",
  startedAtMs: 0,
  jobLoops: () => ({}),
  requestExit: () => undefined,
};

/** A held gate: `wait()` resolves once `open()` was called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, wait: () => opened };
}

/** Wraps a real journal: each kind of write can be held, and each durable write is recorded in `events`. */
function heldJournal(
  journal: Journal,
  events: string[],
  holds: { add?: Promise<void>; remove?: Promise<void> },
) {
  return {
    ...journal,
    async add(entry) {
      await holds.add;
      await journal.add(entry);
      events.push("claim durable");
    },
    async setOutcome(executionId, outcome) {
      await journal.setOutcome(executionId, outcome);
      events.push("outcome durable");
    },
    async remove(executionId) {
      await holds.remove;
      await journal.remove(executionId);
      events.push("forgotten");
    },
  } satisfies Journal;
}

async function setup(opts: {
  workspaces: boolean;
  holds: { add?: Promise<void>; remove?: Promise<void> };
  /** The `initializing` PATCH is answered once this settles. */
  initializingAnswered?: Promise<void>;
  stopSignal?: AbortSignal;
}) {
  const dir = await mkdtemp(join(tmpdir(), "runner-job-runner-"));
  dirs.push(dir);
  const events: string[] = [];
  const gcEvents: string[] = [];
  const journal = createJournal({ dir: join(dir, "state") });
  journals.push(journal);
  await journal.open();
  const { client } = createFakeClient({
    createResult: () => {
      events.push("result posted");
    },
    updateExecutionStatus: async (_job: string, _exec: string, status: string) => {
      events.push(`status ${status}`);
      if (status === "initializing") await opts.initializingAnswered;
    },
  });
  const handler: JobHandler<unknown> = {
    name: "probe",
    parsePlan: (raw) => raw,
    async reset() {
      events.push("step reset");
    },
    async execute() {
      events.push("step execute");
    },
  };
  const runner = createJobRunner({
    client,
    log: silentLog(),
    journal: heldJournal(journal, events, opts.holds),
    cancelWatch: createCancelWatch({ client, log: silentLog() }),
    registry: { find: (type) => (type === "probe" ? () => handler : undefined), types: () => ["probe"] },
    metrics: createAgentMetrics(),
    runnerState,
    killGraceMs: 100,
    stopSignal: opts.stopSignal ?? new AbortController().signal,
    ...(opts.workspaces ? { workspaceRoot: join(dir, "workspaces") } : {}),
    idleGc: {
      busy: () => gcEvents.push(`busy (${events.length} events)`),
      idle: () => gcEvents.push(`idle (${events.length} events)`),
    },
  });
  const pool = createWorkerPool(1);
  const slot = await pool.reserve();
  const claimed: ClaimedJob = {
    job: { id: "job-1", type: "probe" } as Job,
    execution: { id: "exec-1", status: "pending" },
    slot,
    receivedAtMs: performance.now(),
    claimedAtMs: performance.now(),
  };
  return { runner, events, gcEvents, journal, slot, claimed };
}

describe("job runner", () => {
  it.each([
    { workspaces: true, label: "with a workspace" },
    { workspaces: false, label: "without a workspace" },
  ])(
    "runs no step before the claim is durable, and posts the result only once the outcome is ($label)",
    async ({ workspaces }) => {
      const hold = gate();
      const { runner, events, journal, claimed } = await setup({ workspaces, holds: { add: hold.wait() } });
      runner.start(claimed, "operations");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(events.filter((e) => e.startsWith("step"))).toEqual([]);
      hold.open();
      await runner.idle();
      expect(events.indexOf("claim durable")).toBeLessThan(events.indexOf("step reset"));
      expect(events.indexOf("step execute")).toBeLessThan(events.indexOf("outcome durable"));
      expect(events.indexOf("outcome durable")).toBeLessThan(events.indexOf("result posted"));
      expect(events.at(-1)).toBe("forgotten");
      expect(journal.entries()).toEqual([]);
    },
  );

  it("sends the terminal status only after the queued statuses, and stops waiting for them when the runner stops", async () => {
    const stop = new AbortController();
    const { runner, events, journal, claimed } = await setup({
      workspaces: false,
      holds: {},
      initializingAnswered: new Promise<void>(() => undefined), // never answered
      stopSignal: stop.signal,
    });
    runner.start(claimed, "operations");
    for (let i = 0; i < 200 && !events.includes("result posted"); i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    // the steps and the result did not wait for `initializing`; the terminal status does
    expect(events).toContain("step execute");
    expect(events).toContain("result posted");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events.filter((e) => e.startsWith("status"))).toEqual(["status initializing"]);
    stop.abort(new Error("the runner stops"));
    await runner.idle();
    expect(events.filter((e) => e.startsWith("status"))).toEqual(["status initializing"]);
    // the outcome stays in the journal: the next start delivers it
    expect(journal.entries()).toMatchObject([{ executionId: "exec-1", outcome: { status: "finished" } }]);
  });

  it("tells the idle compactor it is busy when a job starts and idle once the job is forgotten", async () => {
    const { runner, events, gcEvents, claimed } = await setup({ workspaces: false, holds: {} });
    runner.start(claimed, "operations");
    expect(gcEvents).toEqual(["busy (0 events)"]);
    await runner.idle();
    expect(events.at(-1)).toBe("forgotten");
    expect(gcEvents).toEqual(["busy (0 events)", `idle (${events.length} events)`]);
  });

  it("frees the slot once the outcome is delivered, before the journal forgot the job", async () => {
    const hold = gate();
    const { runner, events, slot, claimed } = await setup({
      workspaces: false,
      holds: { remove: hold.wait() },
    });
    runner.start(claimed, "operations");
    for (let i = 0; i < 200 && !slot.released; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(slot.released).toBe(true);
    expect(events).toContain("status finished");
    expect(events).not.toContain("forgotten");
    expect(runner.isHeld("job-1")).toBe(true); // still tracked until the journal is updated
    hold.open();
    await runner.idle();
    expect(events.at(-1)).toBe("forgotten");
  });
});

/**
 * A runner with a real journal, a real job log (spool and shipper) and a fake control plane whose log stream
 * fails until `logsBackAt` (performance.now() ms); `events` records what the control plane heard, in order.
 */
async function setupWithLogs(opts: {
  handler: JobHandler<unknown>;
  flushTimeoutMs: number;
  logsBackAt: number;
}) {
  const dir = await mkdtemp(join(tmpdir(), "runner-job-runner-logs-"));
  dirs.push(dir);
  const stateDir = join(dir, "state");
  const events: string[] = [];
  const journal = createJournal({ dir: stateDir });
  journals.push(journal);
  await journal.open();
  const shipped: number[] = [];
  const { client } = createFakeClient({
    createResult: () => {
      events.push("result posted");
    },
    updateExecutionStatus: (_job: string, _exec: string, status: string) => {
      events.push(`status ${status}`);
    },
    writeLogs: (_stream: string, body: Uint8Array) => {
      if (performance.now() < opts.logsBackAt) throw cpError("NETWORK", "writeLogs");
      for (const rl of decodeLogsRequest(body).resourceLogs)
        for (const sl of rl.scopeLogs)
          for (const r of sl.logRecords) {
            const seq = r.attributes?.find((a) => a.key === "runner.log.seq")?.value;
            if (seq !== undefined && "intValue" in seq) shipped.push(Number(seq.intValue));
          }
      events.push("logs delivered");
    },
  });
  const shipper = createShipper({
    client,
    resource: runnerResource({ runnerId: "runner-1", version: "t" }),
    logger: silentLog(),
    retryBaseMs: 20,
    retryMaxMs: 40,
  });
  shippers.push(shipper);
  const runner = createJobRunner({
    client,
    log: silentLog(),
    journal: heldJournal(journal, events, {}),
    cancelWatch: createCancelWatch({ client, log: silentLog() }),
    registry: { find: (type) => (type === "probe" ? () => opts.handler : undefined), types: () => ["probe"] },
    metrics: createAgentMetrics(),
    runnerState,
    killGraceMs: 100,
    stopSignal: new AbortController().signal,
    workspaceRoot: join(dir, "workspaces"),
    openJobLog: (job, execution, stepName, echo) =>
      openJobLog({
        stateDir,
        job,
        execution,
        stepName,
        redactor: createRedactor(),
        logger: silentLog(),
        echo,
        shipper,
        flushTimeoutMs: opts.flushTimeoutMs,
      }),
  });
  const pool = createWorkerPool(1);
  const claimed: ClaimedJob = {
    job: { id: "job-1", type: "probe", log_stream_id: "ls-1" } as Job,
    execution: { id: "exec-1", status: "pending" },
    slot: await pool.reserve(),
    receivedAtMs: performance.now(),
    claimedAtMs: performance.now(),
  };
  return { runner, events, journal, claimed, shipped, stateDir, dir };
}

/** A handler that writes `lines` lines of output and needs no workspace. */
function chattyHandler(lines: number): JobHandler<unknown> {
  return {
    name: "probe",
    needsWorkspace: false,
    parsePlan: (raw) => raw,
    async execute(ctx) {
      for (let i = 1; i <= lines; i++) ctx.log.line(`line ${i}`, "stdout");
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("job runner: workspace and job log", () => {
  it("makes no workspace directory for a handler that declares it needs none", async () => {
    let seenDir: string | undefined = "unset";
    const handler: JobHandler<unknown> = {
      name: "probe",
      needsWorkspace: false,
      parsePlan: (raw) => raw,
      async execute(ctx) {
        seenDir = ctx.workspaceDir;
      },
    };
    const s = await setupWithLogs({ handler, flushTimeoutMs: 2_000, logsBackAt: 0 });
    s.runner.start(s.claimed, "operations");
    await s.runner.idle();
    expect(s.events).toContain("status finished");
    expect(seenDir).toBeUndefined();
    expect(existsSync(join(s.dir, "workspaces"))).toBe(false);
  });

  it("loses no line when the log stream fails during the final flush: the result goes out meanwhile, the terminal status once the lines are in", async () => {
    const s = await setupWithLogs({
      handler: chattyHandler(50),
      flushTimeoutMs: 10_000,
      logsBackAt: performance.now() + 400,
    });
    s.runner.start(s.claimed, "operations");
    await s.runner.idle();
    const lastLogs = s.events.lastIndexOf("logs delivered");
    // The flush overlapped the delivery: the result was posted while the log stream still failed.
    expect(s.events.indexOf("result posted")).toBeLessThan(s.events.indexOf("logs delivered"));
    expect(lastLogs).toBeLessThan(s.events.indexOf("status finished"));
    expect(s.events.indexOf("status finished")).toBeLessThan(s.events.indexOf("forgotten"));
    // Every line once, in order: 50 lines and the pipeline's own "job finished".
    expect(s.shipped).toEqual(range(1, 51));
    expect(s.journal.entries()).toEqual([]);
    await expect.poll(() => readdirSync(spoolRoot(s.stateDir))).toEqual([]);
  });

  it("sends the terminal status after the flush timeout while the log stream is away, keeps the lines on disk, and ships them once it is back", async () => {
    const s = await setupWithLogs({
      handler: chattyHandler(20),
      flushTimeoutMs: 150,
      logsBackAt: performance.now() + 1_200,
    });
    s.runner.start(s.claimed, "operations");
    await s.runner.idle();
    expect(s.events).toContain("status finished");
    expect(s.events).not.toContain("logs delivered");
    // The journal forgot the job once the flush gave up; the spool keeps the lines for the shipper.
    expect(s.events.at(-1)).toBe("forgotten");
    expect(readdirSync(spoolRoot(s.stateDir))).toHaveLength(1);
    await expect.poll(() => s.shipped, { timeout: 5_000 }).toEqual(range(1, 21));
    await expect.poll(() => readdirSync(spoolRoot(s.stateDir))).toEqual([]);
  });
});
