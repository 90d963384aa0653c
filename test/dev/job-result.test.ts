import { describe, expect, it } from "vitest";
import { jobResultOf, outcomeOf } from "../../src/dev/job-result.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import type { JobDetail } from "../../src/mock-control-plane/server.ts";

const detail = (over: Partial<JobDetail>, exec?: Record<string, unknown>): JobDetail =>
  ({
    id: "j1",
    status: "finished",
    executions: exec ? [exec] : [],
    logs: [],
    plan: null,
    ...over,
  }) as JobDetail;
const ctx = () => ({
  name: "job",
  type: "actions-workflow",
  stepNames: new Map([["s2", "unit-tests"]]),
  redactor: createRedactor(),
  fallbackDurationMs: 42,
});

describe("jobResultOf", () => {
  it("reads a finished job's outputs and execution time", () => {
    const r = jobResultOf(
      detail(
        {},
        {
          id: "e",
          created_at: "2026-01-01T00:00:00.000Z",
          updated_at: "2026-01-01T00:00:01.250Z",
          outputs: { a: 1 },
        },
      ),
      ctx(),
    );
    expect(r).toEqual({
      name: "job",
      type: "actions-workflow",
      status: "finished",
      jobId: "j1",
      durationMs: 1250,
      outputs: { a: 1 },
    });
  });

  it("names the failed action step, by name, and keeps the pipeline's message", () => {
    const r = jobResultOf(
      detail(
        { status: "failed" },
        {
          id: "e",
          result: {
            success: false,
            error_metadata: { step: "execute", message: "step 2 exited with code 3" },
          },
          steps: [
            { step_id: "s1", status: "finished" },
            { step_id: "s2", status: "error" },
            { step_id: "s3", status: "noop" },
          ],
        },
      ),
      ctx(),
    );
    expect(r).toMatchObject({
      status: "failed",
      failedStep: "unit-tests",
      error: "step 2 exited with code 3",
      durationMs: 42,
    });
  });

  it("falls back to the pipeline step and to the job's status description", () => {
    expect(
      jobResultOf(
        detail(
          { status: "failed" },
          { id: "e", result: { success: false, error_metadata: { step: "fetch" } } },
        ),
        ctx(),
      ),
    ).toMatchObject({ failedStep: "fetch" });
    expect(
      jobResultOf(detail({ status: "not-attempted", status_description: "queue timeout" }), ctx()),
    ).toMatchObject({
      status: "not-attempted",
      error: "queue timeout",
    });
  });

  it("redacts secret-named outputs and registered secrets in the error", () => {
    const c = ctx();
    c.redactor.add("tok-123456789");
    const r = jobResultOf(
      detail(
        { status: "failed" },
        {
          id: "e",
          outputs: { api_token: "abcdef-secret-value", plain: "ok" },
          result: { success: false, error_metadata: { message: "bad tok-123456789" } },
        },
      ),
      c,
    );
    expect(r.outputs).toEqual({ api_token: "[REDACTED]", plain: "ok" });
    expect(r.error).toBe("bad [REDACTED]");
  });

  it.each([
    ["finished", "finished"],
    ["cancelled", "cancelled"],
    ["in-progress", "failed"],
    [undefined, "failed"],
  ] as const)("reads status %s as %s", (status, outcome) => {
    expect(outcomeOf(status)).toBe(outcome);
  });
});
