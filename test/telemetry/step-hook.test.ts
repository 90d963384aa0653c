/**
 * run-job's `onStep` hook (what step spans are made from): which steps it reports, what it hands over when a
 * step fails or the job is cancelled mid-step, and that a throwing hook changes nothing about the job.
 */
import { describe, expect, it } from "vitest";
import type { JobHandler, RunnerState } from "../../src/jobs/handler.ts";
import { createNoopHandler } from "../../src/jobs/operations/noop.ts";
import { type RunJobInput, runJob } from "../../src/jobs/run-job.ts";
import { createFakeClient } from "../agent/support/fake-client.ts";
import { recordingJobLog } from "../agent/support/silent-log.ts";

const runnerState: RunnerState = {
  processType: "",
  startedAtMs: 0,
  jobLoops: () => ({}),
  requestExit: () => undefined,
};

function base(plan: string, onStep: RunJobInput["onStep"], signal?: AbortSignal): RunJobInput {
  const fake = createFakeClient();
  fake.on("getPlanText", () => plan);
  return {
    job: { id: "job-1", type: "noop" },
    execution: { id: "exec-1" },
    handlerFactory: createNoopHandler as () => JobHandler<unknown>,
    client: fake.client,
    log: recordingJobLog(),
    runnerState,
    killGraceMs: 50,
    abortSettleMs: 200,
    onStep,
    ...(signal !== undefined ? { signal } : {}),
  };
}

describe("the step hook of the pipeline", () => {
  it("reports start and end of each step that runs, with the error of a failing one", async () => {
    const calls: string[] = [];
    let failure: unknown;
    const outcome = await runJob(
      base('{"fail_message":"boom"}', (name, phase, error) => {
        calls.push(`${name}:${phase}`);
        if (error !== undefined) failure = error;
      }),
    );
    expect(outcome.status).toBe("failed");
    expect(calls).toEqual(["fetch:start", "fetch:end", "execute:start", "execute:end"]);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe("boom");
  });

  it("hands over the abort reason when the job is cancelled during a step", async () => {
    const controller = new AbortController();
    const ends: Array<[string, unknown]> = [];
    const running = runJob(
      base(
        '{"sleep_ms":5000}',
        (name, phase, error) => {
          if (phase === "start" && name === "execute") {
            setTimeout(() => controller.abort({ kind: "cancelled", message: "cancelled by the user" }), 20);
          }
          if (phase === "end") ends.push([name, error]);
        },
        controller.signal,
      ),
    );
    const outcome = await running;
    expect(outcome.status).toBe("cancelled");
    expect(ends).toEqual([
      ["fetch", undefined],
      ["execute", { kind: "cancelled", message: "cancelled by the user" }],
    ]);
  });

  it("ignores a hook that throws", async () => {
    const outcome = await runJob(
      base("", () => {
        throw new Error("telemetry broke");
      }),
    );
    expect(outcome.status).toBe("finished");
  });
});
