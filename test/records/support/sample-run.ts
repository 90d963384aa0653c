/** A small run played through the event bus with a fixed clock, for the record, timeline and HTML tests. */
import { createEventBus, type EventBus } from "../../../src/events/bus.ts";
import type { RunSettingsView } from "../../../src/events/events.ts";
import { takeSnapshot } from "../../../src/records/snapshots.ts";

export const T0 = Date.parse("2026-03-04T10:00:00.000Z");
export const iso = (ms: number) => new Date(T0 + ms).toISOString();

export const SETTINGS: RunSettingsView = {
  stateDir: "/state",
  failFast: false,
  timeoutMs: 60_000,
  concurrency: 4,
  logLevel: "info",
  logFile: "/state/runs/r.log",
  record: true,
  output: "text",
  controlPlane: "embedded",
};

/** A bus whose clock the caller moves. */
export function clockedBus(): { bus: EventBus; at: (ms: number) => void } {
  let now = T0;
  return { bus: createEventBus({ now: () => new Date(now) }), at: (ms) => (now = T0 + ms) };
}

/** Plays a run: `build` (a job named by the caller) finishes, `test` fails at step `unit`. */
export function playRun(
  bus: EventBus,
  at: (ms: number) => void,
  opts: { runId?: string; firstJob?: string } = {},
): void {
  const first = opts.firstJob ?? "build";
  at(0);
  bus.emit("run:started", {
    runId: opts.runId ?? "r1",
    jobFiles: ["/jobs/a.yaml"],
    jobs: [
      { name: first, type: "noop", dependsOn: [] },
      { name: "test", type: "actions-workflow", dependsOn: [first] },
    ],
    settings: SETTINGS,
  });
  bus.emit("job:enqueued", { job: first, jobId: "j1", type: "noop" });
  at(100);
  bus.emit("job:status", { job: first, jobId: "j1", status: "in-progress", executionStatus: "initializing" });
  bus.emit("step:status", {
    job: first,
    jobId: "j1",
    step: "initializing",
    kind: "phase",
    status: "in-progress",
    at: iso(100),
  });
  at(300);
  bus.emit("step:status", {
    job: first,
    jobId: "j1",
    step: "initializing",
    kind: "phase",
    status: "finished",
    at: iso(300),
    durationMs: 200,
  });
  bus.emit("step:status", {
    job: first,
    jobId: "j1",
    step: "in-progress",
    kind: "phase",
    status: "in-progress",
    at: iso(300),
  });
  at(1000);
  bus.emit("step:status", {
    job: first,
    jobId: "j1",
    step: "in-progress",
    kind: "phase",
    status: "finished",
    at: iso(1000),
    durationMs: 700,
  });
  bus.emit("job:finished", {
    job: first,
    jobId: "j1",
    type: "noop",
    status: "finished",
    durationMs: 900,
    outputs: { out: "v" },
  });
  bus.emit("job:snapshot", {
    job: first,
    snapshot: takeSnapshot({ job: first, type: "noop", status: "finished", outputs: { out: "v" } }),
  });
  bus.emit("job:enqueued", { job: "test", jobId: "j2", type: "actions-workflow" });
  at(1200);
  bus.emit("step:status", {
    job: "test",
    jobId: "j2",
    step: "unit",
    kind: "action",
    status: "in-progress",
    at: iso(1200),
  });
  bus.emit("job:log", { job: "test", jobId: "j2", level: "info", line: "running tests", source: "agent" });
  at(1500);
  bus.emit("step:status", {
    job: "test",
    jobId: "j2",
    step: "unit",
    kind: "action",
    status: "error",
    at: iso(1500),
    durationMs: 300,
  });
  bus.emit("job:finished", {
    job: "test",
    jobId: "j2",
    type: "actions-workflow",
    status: "failed",
    durationMs: 400,
    error: "bash exited with code 3",
    failedStep: "unit",
  });
  at(2000);
  bus.emit("run:finished", {
    runId: opts.runId ?? "r1",
    status: "failure",
    exitCode: 1,
    durationMs: 2000,
    reason: "test failed",
  });
}
