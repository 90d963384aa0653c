import { afterEach, describe, expect, it } from "vitest";
import { parseGoDurationMs } from "../../src/mock-control-plane/go-duration.ts";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { claim, setStatus, withRunner } from "./helpers.ts";

let cp: EmbeddedControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
});

describe("the long-poll tail route", () => {
  it("wakes within milliseconds of an enqueue in its group", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const started = performance.now();
    const poll = ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?group=deploy&wait=5s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" }); // another group: must not wake it
    await new Promise((resolve) => setTimeout(resolve, 100));
    const enqueuedAt = performance.now();
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "terraform-deploy" });
    const res = await poll;
    const wokeAfterMs = performance.now() - enqueuedAt;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject([{ id: job.id, status: "available", group: "deploy" }]);
    expect(wokeAfterMs).toBeLessThan(50);
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  });

  it("answers at once with the newest available job when there is one", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const newest = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const res = await ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?group=operations&wait=25s`);
    expect((res.json as { id: string }[]).map((j) => j.id)).toEqual([newest.id]);
  });

  it("offers the newest job still available as jobs are claimed, and an older job again once re-offered", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const tail = async () =>
      ((await ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?wait=1ms`)).json as { id: string }[]).map(
        (j) => j.id,
      );
    const oldest = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop", max_executions: 2 });
    const middle = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "terraform-deploy" });
    const newest = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    expect(await tail()).toEqual([newest.id]);
    await claim(ctx.cp, ctx.runner.token, newest.id);
    expect(await tail()).toEqual([middle.id]);
    const first = await claim(ctx.cp, ctx.runner.token, oldest.id);
    expect(await tail()).toEqual([middle.id]);
    ctx.cp.admin.cancelJob(middle.id);
    expect(await tail()).toEqual([]);
    await setStatus(ctx.cp, ctx.runner.token, oldest.id, first, "cancelled"); // re-offered: 1 of 2 used
    expect(await tail()).toEqual([oldest.id]);
    const later = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    expect(await tail()).toEqual([later.id]);
  });

  it("forgets a poll whose client went away: the next job wakes the poll still waiting", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const gone = new AbortController();
    const abandoned = fetch(`${ctx.cp.url}/v1/runners/${ctx.runner.id}/jobs/tail?wait=20s`, {
      headers: { authorization: `Bearer ${ctx.runner.token}` },
      signal: gone.signal,
    }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    gone.abort();
    await abandoned;
    const waiting = ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?wait=5s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const res = await waiting;
    expect(res.json).toMatchObject([{ id: job.id }]);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("returns [] after the wait when nothing arrives", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const started = performance.now();
    const res = await ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?group=build&wait=300ms`);
    const tookMs = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
    expect(tookMs).toBeGreaterThanOrEqual(280);
    expect(tookMs).toBeLessThan(2_000);
  });

  it("answers 404 when the control plane does not offer long-polling, and says so in the settings", async () => {
    const ctx = await withRunner({ tail: false });
    cp = ctx.cp;
    const res = await ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?group=any&wait=1s`);
    expect(res.status).toBe(404);
    const settings = await ctx.as(`/v1/runners/${ctx.runner.id}/settings`);
    expect(settings.json).toMatchObject({ long_poll_jobs: false });
  });

  it("rejects a wait that is not a Go duration", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const res = await ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?wait=soon`);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ description: expect.stringMatching(/^wait: /) });
  });

  it("ends held polls promptly with [] when the server closes", async () => {
    const ctx = await withRunner();
    const poll = ctx.as(`/v1/runners/${ctx.runner.id}/jobs/tail?wait=25s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await ctx.cp.close();
    const res = await poll;
    expect(res.json).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("parseGoDurationMs", () => {
  it.each([
    ["25s", 25_000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1.5s", 1_500],
    ["0", 0],
    ["250000us", 250],
    ["1h", 3_600_000],
  ])("reads %s as %d ms", (text, ms) => {
    expect(parseGoDurationMs(text)).toBe(ms);
  });

  it.each(["", "25", "-1s", "5 s", "s", "1d"])("refuses %j", (text) => {
    expect(parseGoDurationMs(text)).toBeUndefined();
  });
});
