import { describe, expect, it } from "vitest";
import { newObservedState, type Observation, observeChanges } from "../../src/dev/observer.ts";
import type { JobDetail } from "../../src/mock-control-plane/server.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function job(over: Partial<JobDetail> & { exec?: Record<string, unknown>[] } = {}): JobDetail {
  const { exec, ...rest } = over;
  return {
    id: "j1",
    status: "available",
    executions: (exec ?? []) as JobDetail["executions"],
    logs: [],
    plan: null,
    ...rest,
  } as JobDetail;
}

const ctx = { name: "greet", stepNames: new Map([["s1", "say-hello"]]), nowMs: () => T0 };
const summary = (obs: Observation[]) =>
  obs.map((o) =>
    o.type === "job:status"
      ? `status ${o.data.status}/${o.data.executionStatus ?? "-"}`
      : o.type === "step:status"
        ? `${o.data.kind} ${o.data.step} ${o.data.status}${o.data.durationMs !== undefined ? ` ${o.data.durationMs}ms` : ""}`
        : `log ${o.data.line}`,
  );

describe("observeChanges", () => {
  it("turns execution status PATCHes into pipeline phases with their durations", () => {
    const state = newObservedState();
    const seen: string[] = [];
    const look = (status: string, ms: number, jobStatus = "in-progress") =>
      seen.push(
        ...summary(
          observeChanges(
            state,
            job({ status: jobStatus as never, exec: [{ id: "e1", status, updated_at: at(ms) }] }),
            ctx,
          ),
        ),
      );
    seen.push(...summary(observeChanges(state, job(), ctx)));
    look("pending", 0);
    look("initializing", 10);
    look("in-progress", 110);
    look("cleaning-up", 400);
    look("finished", 450, "finished");
    expect(seen).toEqual([
      "status available/-",
      "status in-progress/pending",
      "status in-progress/initializing",
      "phase initializing in-progress",
      "status in-progress/in-progress",
      "phase initializing finished 100ms",
      "phase in-progress in-progress",
      "status in-progress/cleaning-up",
      "phase in-progress finished 290ms",
      "phase cleaning-up in-progress",
      "status finished/finished",
      "phase cleaning-up finished 50ms",
    ]);
  });

  it("ends the running phase with the execution's terminal status when it fails", () => {
    const state = newObservedState();
    observeChanges(
      state,
      job({ status: "in-progress", exec: [{ id: "e1", status: "in-progress", updated_at: at(0) }] }),
      ctx,
    );
    const obs = observeChanges(
      state,
      job({ status: "failed", exec: [{ id: "e1", status: "failed", updated_at: at(70) }] }),
      ctx,
    );
    expect(summary(obs)).toEqual(["status failed/failed", "phase in-progress failed 70ms"]);
  });

  it("reports action step PUTs by step name, in time order with the phases, once each", () => {
    const state = newObservedState();
    const steps = [
      { step_id: "s1", status: "in-progress", updated_at: at(20), install_id: "i", workflow_run_id: "w" },
      {
        step_id: "s1",
        status: "error",
        execution_duration: 30_000_000,
        updated_at: at(50),
        install_id: "i",
        workflow_run_id: "w",
      },
      { step_id: "other", status: "noop", updated_at: at(51), install_id: "i", workflow_run_id: "w" },
    ];
    // One poll sees everything at once: the job already failed.
    const first = observeChanges(
      state,
      job({ status: "failed", exec: [{ id: "e1", status: "failed", updated_at: at(60), steps }] }),
      ctx,
    );
    expect(summary(first)).toEqual([
      "status failed/failed",
      "action say-hello in-progress",
      "action say-hello error 30ms",
      "action other noop",
    ]);
    expect(
      observeChanges(
        state,
        job({ status: "failed", exec: [{ id: "e1", status: "failed", updated_at: at(60), steps }] }),
        ctx,
      ),
    ).toEqual([]);
  });

  it("reports new log records of the job's log stream", () => {
    const state = newObservedState();
    const logs = [{ body: "one", severityText: "INFO", attributes: { stream: "stdout" }, resource: {} }];
    const a = observeChanges(state, job({ logs: logs as JobDetail["logs"] }), ctx);
    const b = observeChanges(
      state,
      job({
        logs: [
          ...logs,
          { body: "two", severityText: "WARN", attributes: {}, resource: {} },
        ] as JobDetail["logs"],
      }),
      ctx,
    );
    expect(a.filter((o) => o.type === "job:log").map((o) => o.data)).toEqual([
      { job: "greet", jobId: "j1", level: "info", line: "one", stream: "stdout", source: "control-plane" },
    ]);
    expect(b.filter((o) => o.type === "job:log").map((o) => (o.data as { line: string }).line)).toEqual([
      "two",
    ]);
  });

  it("starts over for a new execution", () => {
    const state = newObservedState();
    observeChanges(
      state,
      job({ status: "in-progress", exec: [{ id: "e1", status: "in-progress", updated_at: at(0) }] }),
      ctx,
    );
    const obs = observeChanges(
      state,
      job({
        status: "in-progress",
        exec: [
          { id: "e1", status: "cancelled", updated_at: at(5) },
          { id: "e2", status: "initializing", updated_at: at(10) },
        ],
      }),
      ctx,
    );
    expect(summary(obs)).toEqual(["status in-progress/initializing", "phase initializing in-progress"]);
  });
});
