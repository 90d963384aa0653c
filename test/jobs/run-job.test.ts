import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Job } from "../../src/control-plane/schemas.ts";
import type { AbortReason, HandlerFactory, JobHandler, RunnerState } from "../../src/jobs/handler.ts";
import { createHandlerRegistry } from "../../src/jobs/registry.ts";
import { parsePlanText, type RunJobInput, runJob } from "../../src/jobs/run-job.ts";
import { createWorkspace } from "../../src/workspace/workspace.ts";
import { cpError, createFakeClient } from "../agent/support/fake-client.ts";
import { recordingJobLog } from "../agent/support/silent-log.ts";

const runnerState: RunnerState = {
  processType: "",
  startedAtMs: 0,
  jobLoops: () => ({ operations: 1234 }),
  requestExit: () => undefined,
};

function input(
  job: Partial<Job>,
  handlerFactory: HandlerFactory | undefined,
  extra: Partial<RunJobInput> = {},
) {
  const fake = createFakeClient();
  const log = recordingJobLog();
  const base: RunJobInput = {
    job: { id: "job-1", type: "noop", ...job },
    execution: { id: "exec-1" },
    handlerFactory,
    client: fake.client,
    log,
    runnerState,
    killGraceMs: 50,
    abortSettleMs: 200,
    ...extra,
  };
  return { fake, log, input: base };
}

/** A handler that records its steps and can be told to fail one of them. */
function tracingHandler(
  opts: { failIn?: string; ignoreSignal?: boolean; outputs?: Record<string, unknown> } = {},
) {
  const steps: string[] = [];
  const shutdowns: AbortReason[] = [];
  const maybeFail = async (name: string) => {
    steps.push(name);
    if (opts.failIn === name) throw new Error(`${name} broke`);
  };
  const handler: JobHandler<{ n: number }> = {
    name: "tracing",
    parsePlan: (raw) => z.object({ n: z.number() }).parse(raw),
    reset: () => maybeFail("reset"),
    fetch: () => maybeFail("fetch"),
    validate: () => maybeFail("validate"),
    initialize: () => maybeFail("initialize"),
    async execute(ctx) {
      await maybeFail("execute");
      if (opts.ignoreSignal) await new Promise((resolve) => setTimeout(resolve, 5_000));
      else if (ctx.plan.n > 0) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ctx.plan.n);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(new Error("aborted"));
          });
        });
      }
      ctx.result.contents = "plan-bytes";
    },
    outputs: async () => {
      await maybeFail("outputs");
      return opts.outputs ?? { answer: 42 };
    },
    cleanup: () => maybeFail("cleanup"),
    gracefulShutdown: async (_ctx, reason) => {
      shutdowns.push(reason);
    },
  };
  return { steps, shutdowns, factory: (() => handler) as HandlerFactory };
}

describe("step pipeline", () => {
  it("runs every step in order under initializing, in-progress and cleaning-up, posting outputs and a success result", async () => {
    const t = tracingHandler();
    const { fake, input: i } = input({}, t.factory);
    fake.on("getPlanText", () => '{"n": 0}');
    const outcome = await runJob(i);
    await outcome.statusesSent;
    expect(outcome.status).toBe("finished");
    expect(t.steps).toEqual(["reset", "fetch", "validate", "initialize", "execute", "outputs", "cleanup"]);
    expect(fake.statuses()).toEqual(["initializing", "in-progress", "cleaning-up"]);
    expect(fake.ops().filter((op) => op !== "updateExecutionStatus")).toEqual([
      "getPlanText",
      "createOutputs",
    ]);
    expect(fake.calls.find((c) => c.op === "createOutputs")?.args[2]).toEqual({ answer: 42 });
    expect(outcome.result).toEqual({ success: true, contents: "plan-bytes" });
  });

  it("fails a throwing execute with the step, handler, type and message, and still runs cleanup", async () => {
    const t = tracingHandler({ failIn: "execute" });
    const { fake, input: i } = input({ type: "terraform-deploy" }, t.factory);
    fake.on("getPlanText", () => '{"n": 0}');
    const outcome = await runJob(i);
    await outcome.statusesSent;
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("execute");
    expect(t.steps).toEqual(["reset", "fetch", "validate", "initialize", "execute", "cleanup"]);
    expect(fake.statuses()).toEqual(["initializing", "in-progress"]);
    expect(outcome.result).toEqual({
      success: false,
      errorCode: 0,
      errorMetadata: {
        step: "execute",
        handler: "tracing",
        job_type: "terraform-deploy",
        message: "execute broke",
      },
    });
  });

  it("does not run cleanup when a step before execute fails", async () => {
    const t = tracingHandler({ failIn: "validate" });
    const { fake, input: i } = input({}, t.factory);
    fake.on("getPlanText", () => '{"n": 0}');
    const outcome = await runJob(i);
    expect(outcome).toMatchObject({ status: "failed", step: "validate", message: "validate broke" });
    expect(t.steps).toEqual(["reset", "fetch", "validate"]);
  });

  it("fails a cleanup error on the success path at the cleanup step", async () => {
    const t = tracingHandler({ failIn: "cleanup" });
    const { fake, input: i } = input({}, t.factory);
    fake.on("getPlanText", () => '{"n": 0}');
    const outcome = await runJob(i);
    expect(outcome).toMatchObject({ status: "failed", step: "cleanup" });
    expect(t.steps.filter((s) => s === "cleanup")).toHaveLength(1);
  });

  it("names the field of an invalid plan", async () => {
    const { fake, input: i } = input({}, createHandlerRegistry().find("noop"));
    fake.on("getPlanText", () => '{"sleep_ms": "soon"}');
    const outcome = await runJob(i);
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("fetch");
    expect(outcome.message).toContain("the plan is invalid");
    expect(outcome.message).toContain("sleep_ms");
  });

  it("says so when the plan is not JSON", async () => {
    const { fake, input: i } = input({}, createHandlerRegistry().find("noop"));
    fake.on("getPlanText", () => "{not json");
    const outcome = await runJob(i);
    expect(outcome).toMatchObject({ status: "failed", step: "fetch" });
    expect(outcome.message).toMatch(/^the plan is not valid JSON/);
  });

  it("fails a job of an unknown type naming the type, without touching the execution first", async () => {
    const { fake, input: i } = input({ type: "quantum-deploy" }, undefined);
    const outcome = await runJob(i);
    expect(outcome).toMatchObject({ status: "failed", step: "handler" });
    expect(outcome.message).toBe('this runner has no handler for job type "quantum-deploy"');
    expect(fake.calls).toEqual([]);
  });

  it("times out at the job's execution_timeout and tells the handler why", async () => {
    const t = tracingHandler();
    const { fake, input: i } = input({ execution_timeout: 80 * 1e6 }, t.factory);
    fake.on("getPlanText", () => '{"n": 5000}');
    const started = performance.now();
    const outcome = await runJob(i);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(outcome).toMatchObject({ status: "timed-out", step: "execute" });
    expect(outcome.message).toContain("80 ms");
    expect(t.shutdowns.map((r) => r.kind)).toEqual(["timed-out"]);
    expect(t.steps).toContain("cleanup");
  });

  it("ends cancelled when the control plane cancels, and the handler hears it within a moment", async () => {
    const t = tracingHandler();
    const { fake, input: i } = input({}, t.factory, {});
    fake.on("getPlanText", () => '{"n": 5000}');
    const controller = new AbortController();
    const run = runJob({ ...i, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const abortedAt = performance.now();
    controller.abort({ kind: "cancelled", message: "the job was cancelled at the control plane" });
    const outcome = await run;
    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect(outcome).toMatchObject({
      status: "cancelled",
      message: "the job was cancelled at the control plane",
    });
    expect(t.shutdowns).toEqual([
      { kind: "cancelled", message: "the job was cancelled at the control plane" },
    ]);
  });

  it.each([
    ["drain", "failed"],
    ["shutdown", "failed"],
  ] as const)("turns an abort for %s into %s", async (kind, status) => {
    const t = tracingHandler();
    const { fake, input: i } = input({}, t.factory);
    fake.on("getPlanText", () => '{"n": 5000}');
    const controller = new AbortController();
    const run = runJob({ ...i, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort({ kind, message: `stopping (${kind})` });
    expect(await run).toMatchObject({ status, message: `stopping (${kind})` });
  });

  it("gives up on a step that ignores its signal after abortSettleMs", async () => {
    const t = tracingHandler({ ignoreSignal: true });
    const { fake, input: i } = input({}, t.factory, { abortSettleMs: 100 });
    fake.on("getPlanText", () => '{"n": 0}');
    const controller = new AbortController();
    const run = runJob({ ...i, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const abortedAt = performance.now();
    controller.abort({ kind: "cancelled", message: "cancelled" });
    const outcome = await run;
    expect(outcome.status).toBe("cancelled");
    expect(performance.now() - abortedAt).toBeLessThan(1_000);
  });

  it("keeps going when a non-terminal status PATCH fails, and drops the statuses queued behind it", async () => {
    const t = tracingHandler();
    const { fake, log, input: i } = input({}, t.factory);
    fake.on("getPlanText", () => '{"n": 0}');
    fake.on("updateExecutionStatus", async () => {
      // given up only after the steps are done: `in-progress` and `cleaning-up` wait behind it
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw cpError("NETWORK", "updateExecutionStatus");
    });
    const outcome = await runJob(i);
    expect(outcome.status).toBe("finished");
    expect(t.steps).toEqual(["reset", "fetch", "validate", "initialize", "execute", "outputs", "cleanup"]);
    await outcome.statusesSent;
    expect(fake.statuses()).toEqual(["initializing"]);
    expect(
      log.messages.filter((m) => m.startsWith("warn: could not update the execution status")),
    ).toHaveLength(1);
  });

  it("gives the handler a 0700 workspace and removes it after cleanup, also when the job fails", async () => {
    for (const failIn of [undefined, "execute"]) {
      const root = await mkdtemp(join(tmpdir(), "runjob-ws-"));
      const seen: Array<{ dir: string | undefined; mode: number }> = [];
      const { factory } = tracingHandler(failIn === undefined ? {} : { failIn });
      const wrapped: HandlerFactory = () => {
        const h = factory() as JobHandler<{ n: number }>;
        return {
          ...h,
          async cleanup(ctx) {
            const info = await stat(ctx.workspaceDir!);
            seen.push({ dir: ctx.workspaceDir, mode: info.mode & 0o777 });
          },
        } as JobHandler<unknown>;
      };
      const t = input({}, wrapped, {
        workspace: () => createWorkspace({ root, jobId: "job-1", executionId: "exec-1" }),
      });
      t.fake.on("getPlanText", () => JSON.stringify({ n: 0 }));
      const outcome = await runJob(t.input);
      expect(outcome.status).toBe(failIn === undefined ? "finished" : "failed");
      expect(seen).toHaveLength(1);
      expect(seen[0]!.dir!.startsWith(root)).toBe(true);
      expect(seen[0]!.mode).toBe(0o700);
      expect(existsSync(seen[0]!.dir!)).toBe(false);
      await rm(root, { recursive: true, force: true });
    }
  });

  it("fails at reset, naming the cause, when the workspace cannot be made", async () => {
    const { factory, steps } = tracingHandler();
    const t = input({}, factory, {
      workspace: () => Promise.reject(new Error("disk full")),
    });
    t.fake.on("getPlanText", () => JSON.stringify({ n: 0 }));
    const outcome = await runJob(t.input);
    expect(outcome.status).toBe("failed");
    expect(outcome.step).toBe("reset");
    expect(outcome.message).toBe("could not create the job workspace: disk full");
    expect(steps).toEqual([]);
  });

  it("makes no workspace for a handler that declares it needs none", async () => {
    const root = await mkdtemp(join(tmpdir(), "runjob-nows-"));
    const made: string[] = [];
    let seenDir: string | undefined = "unset";
    const handler: JobHandler<unknown> = {
      name: "no-workspace",
      needsWorkspace: false,
      parsePlan: (raw) => raw,
      async execute(ctx) {
        seenDir = ctx.workspaceDir;
      },
    };
    const t = input({}, () => handler, {
      workspace: async () => {
        const ws = await createWorkspace({ root, jobId: "job-1", executionId: "exec-1" });
        made.push(ws.dir);
        return ws;
      },
    });
    expect((await runJob(t.input)).status).toBe("finished");
    expect(made).toEqual([]);
    expect(seenDir).toBeUndefined();
    expect(existsSync(join(root, "job-1-exec-1"))).toBe(false);
    await rm(root, { recursive: true, force: true });
  });

  it("runs the steps without waiting for the statuses, which go out in order, each after the previous answer", async () => {
    const events: string[] = [];
    let answerInitializing!: () => void;
    const initializingHeld = new Promise<void>((resolve) => {
      answerInitializing = resolve;
    });
    const t = tracingHandler();
    const { fake, input: i } = input({}, t.factory);
    fake.on("updateExecutionStatus", async (_job: string, _exec: string, status: string) => {
      events.push(`PATCH ${status} sent`);
      if (status === "initializing") await initializingHeld;
      events.push(`PATCH ${status} answered`);
    });
    fake.on("getPlanText", () => {
      events.push("GET plan");
      return '{"n": 0}';
    });
    const outcome = await runJob(i);
    // Every step ran while `initializing` was unanswered, and nothing overtook it.
    expect(outcome.status).toBe("finished");
    expect(t.steps).toEqual(["reset", "fetch", "validate", "initialize", "execute", "outputs", "cleanup"]);
    expect(events).toEqual(["PATCH initializing sent", "GET plan"]);
    let drained = false;
    void outcome.statusesSent.then(() => {
      drained = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(drained).toBe(false);
    answerInitializing();
    await outcome.statusesSent;
    expect(events).toEqual([
      "PATCH initializing sent",
      "GET plan",
      "PATCH initializing answered",
      "PATCH in-progress sent",
      "PATCH in-progress answered",
      "PATCH cleaning-up sent",
      "PATCH cleaning-up answered",
    ]);
    expect(fake.statuses()).toEqual(["initializing", "in-progress", "cleaning-up"]);
  });

  it("runs no step and makes no workspace before beforeFirstStep settles", async () => {
    const events: string[] = [];
    let release!: () => void;
    const ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    const t = tracingHandler();
    const { fake, input: i } = input({}, t.factory, {
      beforeFirstStep: ready.then(() => {
        events.push("ready");
      }),
      workspace: async () => {
        events.push("workspace");
        return { dir: "/nonexistent", cleanup: async () => undefined };
      },
    });
    fake.on("getPlanText", () => '{"n": 0}');
    const run = runJob(i);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(t.steps).toEqual([]);
    expect(events).toEqual([]);
    // The PATCH and the plan's GET do not wait for it.
    expect(fake.ops().sort()).toEqual(["getPlanText", "updateExecutionStatus"]);
    release();
    expect((await run).status).toBe("finished");
    expect(events).toEqual(["ready", "workspace"]);
    expect(t.steps[0]).toBe("reset");
  });

  it("accepts an empty or null plan for noop", async () => {
    for (const text of ["", "null", "  "]) {
      const { fake, input: i } = input({}, createHandlerRegistry().find("noop"));
      fake.on("getPlanText", () => text);
      expect((await runJob(i)).status).toBe("finished");
    }
  });

  it("reports the job loops from a health-check job as outputs", async () => {
    const { fake, input: i } = input({ type: "health-check" }, createHandlerRegistry().find("health-check"));
    const outcome = await runJob(i);
    expect(outcome.status).toBe("finished");
    expect(fake.calls.find((c) => c.op === "createOutputs")?.args[2]).toEqual({
      job_loops: { operations: 1234 },
    });
  });

  it("calls afterFinished only when the agent says the outcome was delivered", async () => {
    const exits: string[] = [];
    const { fake, input: i } = input(
      { type: "shut-down", metadata: { shutdown_type: "force" } },
      createHandlerRegistry().find("shut-down"),
      {
        runnerState: {
          ...runnerState,
          requestExit: (reason, o) => exits.push(`${reason} force=${o?.force}`),
        },
      },
    );
    fake.on("getPlanText", () => "");
    const outcome = await runJob(i);
    expect(outcome.status).toBe("finished");
    expect(exits).toEqual([]);
    outcome.afterDelivered();
    expect(exits).toEqual(["shut-down job job-1 force=true"]);
  });
});

describe("plan text", () => {
  it.each([
    ["", null],
    ["null", null],
    ['{"a":1}', { a: 1 }],
    [" [1] ", [1]],
  ])("parses %j", (text, expected) => {
    expect(parsePlanText(text)).toEqual(expected);
  });
});
