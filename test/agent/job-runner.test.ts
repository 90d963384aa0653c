/**
 * The job runner's ordering promises, with a real journal on disk whose writes a test can hold: no step runs
 * before the claim is durable, the terminal outcome is durable before the control plane hears it, and the
 * slot is free once the outcome is delivered (forgetting the job in the journal follows on its own).
 */
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
import { createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

const dirs: string[] = [];
afterEach(async () => {
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

async function setup(opts: { workspaces: boolean; holds: { add?: Promise<void>; remove?: Promise<void> } }) {
  const dir = await mkdtemp(join(tmpdir(), "runner-job-runner-"));
  dirs.push(dir);
  const events: string[] = [];
  const journal = createJournal({ dir: join(dir, "state") });
  await journal.open();
  const { client } = createFakeClient({
    createResult: () => {
      events.push("result posted");
    },
    updateExecutionStatus: (_job: string, _exec: string, status: string) => {
      events.push(`status ${status}`);
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
    stopSignal: new AbortController().signal,
    ...(opts.workspaces ? { workspaceRoot: join(dir, "workspaces") } : {}),
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
  return { runner, events, journal, slot, claimed };
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
