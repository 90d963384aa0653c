import { describe, expect, it } from "vitest";
import { aliveTimeNs, nextSlot, startHeartbeatLoop } from "../../src/agent/heartbeat.ts";

describe("heartbeat schedule", () => {
  it.each([
    { now: 50, fired: -1, expected: 0, why: "before the anchor: the first slot" },
    { now: 100, fired: 0, expected: 1, why: "on time: the following slot" },
    { now: 99.6, fired: 0, expected: 1, why: "a timer firing early never repeats its slot" },
    { now: 350, fired: 0, expected: 1, why: "late within the slot: the following slot" },
    { now: 3_600, fired: 0, expected: 4, why: "blocked past slots 1-3: they are skipped" },
  ])("picks slot $expected at $now after slot $fired fired ($why)", ({ now, fired, expected }) => {
    expect(nextSlot(100, 1000, now, fired)).toBe(expected);
  });

  it("keeps the cadence without drift while sends are slow, and records the worst gap", async () => {
    const sentAt: number[] = [];
    const loop = startHeartbeatLoop({
      intervalMs: 40,
      initialOffsetMs: 0,
      // each send takes longer than the interval: sends must not wait for each other
      send: () => {
        sentAt.push(performance.now());
        return new Promise((resolve) => setTimeout(resolve, 100));
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 430));
    loop.stop();
    const stats = loop.stats();
    expect(stats.sent).toBeGreaterThanOrEqual(9);
    const span = sentAt.at(-1)! - sentAt[0]!;
    // no drift: n beats span (n - 1) intervals, give or take one timer tick
    expect(Math.abs(span - (sentAt.length - 1) * 40)).toBeLessThan(40);
    expect(stats.worstGapMs).toBeGreaterThanOrEqual(30);
    expect(stats.worstGapMs).toBeLessThan(80);
  });

  it("skips slots missed while the event loop was blocked instead of bursting, and reports the gap", async () => {
    let sent = 0;
    const loop = startHeartbeatLoop({
      intervalMs: 20,
      initialOffsetMs: 0,
      send: async () => {
        sent += 1;
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const before = sent;
    const until = performance.now() + 120;
    while (performance.now() < until) {
      // block the event loop
    }
    await new Promise((resolve) => setTimeout(resolve, 15));
    loop.stop();
    expect(sent - before).toBeLessThanOrEqual(2);
    expect(loop.stats().worstGapMs).toBeGreaterThanOrEqual(100);
  });

  it("counts failures, reports them and keeps beating", async () => {
    const errors: unknown[] = [];
    const loop = startHeartbeatLoop({
      intervalMs: 10,
      initialOffsetMs: 0,
      send: () => Promise.reject(new Error("control plane down")),
      onError: (err) => errors.push(err),
    });
    await new Promise((resolve) => setTimeout(resolve, 55));
    loop.stop();
    const { sent, failed } = loop.stats();
    expect(sent).toBeGreaterThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(loop.stats().failed).toBe(sent);
    expect(failed).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBe(loop.stats().failed);
  });

  it("waits a random initial offset below the interval before the first beat", async () => {
    let sent = 0;
    const loop = startHeartbeatLoop({
      intervalMs: 1000,
      random: () => 0.999,
      send: async () => {
        sent += 1;
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent).toBe(0);
    loop.stop();
  });

  it("reports alive_time as nanoseconds since the process started", () => {
    const ns = aliveTimeNs();
    expect(Number.isInteger(ns)).toBe(true);
    expect(Math.abs(ns / 1e9 - process.uptime())).toBeLessThan(0.1);
  });
});
