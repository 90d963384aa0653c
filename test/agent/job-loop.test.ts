import { describe, expect, it } from "vitest";
import { type ClaimedJob, createJobLoop, type JobLoopOptions } from "../../src/agent/job-loop.ts";
import { createJobSource, type JobSource } from "../../src/agent/job-source.ts";
import { createWorkerPool } from "../../src/agent/worker-pool.ts";
import type { Job } from "../../src/control-plane/schemas.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

const job = (id: string, second: number): Job => ({
  id,
  type: "noop",
  created_at: `2026-01-01T00:00:${String(second).padStart(2, "0")}Z`,
});

/** A source that answers from a script, then with nothing. */
function scriptedSource(answers: Array<Job[] | Error>): JobSource & { asks: number } {
  const source = {
    mode: "poll" as const,
    asks: 0,
    async next() {
      source.asks += 1;
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return { jobs: answer ?? [], mode: "poll" as const };
    },
  };
  return source;
}

function loopWith(overrides: Partial<JobLoopOptions> & Pick<JobLoopOptions, "source" | "claim" | "start">) {
  return createJobLoop({
    group: "operations",
    pool: createWorkerPool(1),
    order: "oldest",
    pollIntervalMs: 5,
    pollMaxIntervalMs: 10,
    log: silentLog(),
    ...overrides,
  });
}

const until = async (check: () => boolean, ms = 2_000) => {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

describe("job loop", () => {
  it("claims the oldest job of an answer first and hands it over with its slot", async () => {
    const started: ClaimedJob[] = [];
    const claims: string[] = [];
    const controller = new AbortController();
    const loop = loopWith({
      source: scriptedSource([[job("new", 3), job("old", 1), job("mid", 2)]]),
      claim: async (j) => {
        claims.push(j.id);
        return { id: `exec-${j.id}` };
      },
      start: (claimed) => started.push(claimed),
    });
    const run = loop.run(controller.signal);
    await until(() => started.length === 1);
    expect(claims).toEqual(["old"]);
    expect(started[0]?.execution.id).toBe("exec-old");
    expect(started[0]!.claimedAtMs).toBeGreaterThanOrEqual(started[0]!.receivedAtMs);
    controller.abort();
    started[0]?.slot.release();
    await run;
  });

  it("never asks for work while every slot runs a job", async () => {
    const source = scriptedSource([[job("a", 1)], [job("b", 2)]]);
    const started: ClaimedJob[] = [];
    const controller = new AbortController();
    const loop = loopWith({ source, claim: async (j) => ({ id: j.id }), start: (c) => started.push(c) });
    const run = loop.run(controller.signal);
    await until(() => started.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(source.asks).toBe(1);
    expect(loop.health().busy).toBe(true);
    expect(loop.health().sinceLastCheckMs).toBe(0);
    started[0]?.slot.release();
    await until(() => started.length === 2);
    expect(source.asks).toBe(2);
    controller.abort();
    started[1]?.slot.release();
    await run;
  });

  it("treats a lost claim as normal and tries the next job of the same answer", async () => {
    const started: string[] = [];
    const controller = new AbortController();
    const loop = loopWith({
      source: scriptedSource([[job("a", 1), job("b", 2)]]),
      claim: async (j) => (j.id === "a" ? undefined : { id: "exec-b" }),
      start: (c) => {
        started.push(c.job.id);
        c.slot.release();
      },
    });
    const run = loop.run(controller.signal);
    await until(() => started.length === 1);
    expect(started).toEqual(["b"]);
    expect(loop.health()).toMatchObject({ claimed: 1, claimsLost: 1, errors: 0 });
    controller.abort();
    await run;
  });

  it("uses free extra slots to claim more jobs of one answer without asking again", async () => {
    const source = scriptedSource([[job("a", 1), job("b", 2), job("c", 3)]]);
    const started: ClaimedJob[] = [];
    const controller = new AbortController();
    const loop = loopWith({
      pool: createWorkerPool(2),
      source,
      claim: async (j) => ({ id: j.id }),
      start: (c) => started.push(c),
    });
    const run = loop.run(controller.signal);
    await until(() => started.length === 2);
    expect(started.map((c) => c.job.id)).toEqual(["a", "b"]);
    expect(source.asks).toBe(1);
    controller.abort();
    for (const c of started) c.slot.release();
    await run;
  });

  it("backs off after errors and keeps going instead of exiting", async () => {
    const source = scriptedSource([cpError("NETWORK"), cpError("SERVER_ERROR"), [job("a", 1)]]);
    const started: string[] = [];
    const controller = new AbortController();
    const loop = loopWith({
      source,
      claim: async (j) => ({ id: j.id }),
      start: (c) => {
        started.push(c.job.id);
        c.slot.release();
      },
    });
    const run = loop.run(controller.signal);
    await until(() => started.length === 1);
    expect(loop.health().errors).toBe(2);
    controller.abort();
    await run;
  });

  it("skips jobs this runner already holds", async () => {
    const claims: string[] = [];
    const controller = new AbortController();
    const loop = loopWith({
      source: scriptedSource([[job("held", 1), job("free", 2)]]),
      isHeld: (id) => id === "held",
      claim: async (j) => {
        claims.push(j.id);
        return { id: j.id };
      },
      start: (c) => c.slot.release(),
    });
    const run = loop.run(controller.signal);
    await until(() => claims.length === 1);
    expect(claims).toEqual(["free"]);
    controller.abort();
    await run;
  });

  it("still starts a job whose claim was in flight when the loop was told to stop", async () => {
    const controller = new AbortController();
    const started: string[] = [];
    let releaseClaim: () => void = () => undefined;
    const loop = loopWith({
      source: scriptedSource([[job("a", 1)]]),
      claim: (j) =>
        new Promise((resolve) => {
          releaseClaim = () => resolve({ id: j.id });
        }),
      start: (c) => {
        started.push(c.job.id);
        c.slot.release();
      },
    });
    const run = loop.run(controller.signal);
    await until(
      () =>
        loop.health().claimed === 0 &&
        typeof releaseClaim === "function" &&
        loop.health().firstPollAtMs !== undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    releaseClaim();
    await run;
    expect(started).toEqual(["a"]);
  });
});

describe("job source", () => {
  it("long-polls, and falls back to listing for good when the tail endpoint answers 404", async () => {
    const fake = createFakeClient();
    fake.on("tailJobs", () => ({ supported: false }));
    fake.on("listJobs", () => [job("a", 1)]);
    const source = createJobSource({
      client: fake.client,
      group: "build",
      longPoll: true,
      longPollWaitMs: 25_000,
      log: silentLog(),
    });
    expect(source.mode).toBe("tail");
    const first = await source.next(new AbortController().signal);
    expect(first.jobs.map((j) => j.id)).toEqual(["a"]);
    expect(source.mode).toBe("poll");
    await source.next(new AbortController().signal);
    expect(fake.ops()).toEqual(["tailJobs", "listJobs", "listJobs"]);
    expect(fake.calls[0]?.args.slice(0, 2)).toEqual(["build", 25_000]);
    expect(fake.calls[1]?.args[0]).toEqual({ group: "build", status: "available" });
  });

  it("lists only when long-polling is off", async () => {
    const fake = createFakeClient();
    const source = createJobSource({
      client: fake.client,
      group: "sync",
      longPoll: false,
      longPollWaitMs: 1,
      log: silentLog(),
    });
    await source.next(new AbortController().signal);
    expect(fake.ops()).toEqual(["listJobs"]);
  });
});
