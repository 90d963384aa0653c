/**
 * Idle compaction: one collection per idle period, after the delay, never while a job runs; and the collector
 * found in this process is V8's real one (a major collection shows up in the `gc` performance entries) without
 * leaving `gc` exposed to contexts made later.
 */
import { constants, PerformanceObserver } from "node:perf_hooks";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createIdleGc, findCollector } from "../../src/agent/idle-gc.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("idle compaction", () => {
  it("collects once, after the delay without a job", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const compactions: number[] = [];
    let rss = 100;
    const gc = createIdleGc({
      delayMs: 2000,
      collect: () => {
        collect();
        rss = 60;
      },
      rss: () => rss,
      onCompaction: (c) => compactions.push(c.rssBefore - c.rssAfter),
    });
    expect(gc.enabled).toBe(true);
    gc.idle();
    vi.advanceTimersByTime(1999);
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(compactions).toEqual([40]);
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(1); // once per idle period, not every delay
  });

  it("does not collect when a job starts before the delay, and starts over when the runner is idle again", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const gc = createIdleGc({ delayMs: 2000, collect });
    gc.idle();
    vi.advanceTimersByTime(1500);
    gc.busy();
    vi.advanceTimersByTime(5000);
    expect(collect).not.toHaveBeenCalled();
    gc.idle();
    vi.advanceTimersByTime(1500);
    gc.idle(); // a second idle restarts the wait, it does not add a collection
    vi.advanceTimersByTime(1999);
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it("does nothing after stop, with a delay of 0, or without a collector", () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const stopped = createIdleGc({ delayMs: 10, collect });
    stopped.idle();
    stopped.stop();
    stopped.idle();
    const off = createIdleGc({ delayMs: 0, collect });
    off.idle();
    const none = createIdleGc({ delayMs: 10, collect: undefined });
    none.idle();
    vi.advanceTimersByTime(1000);
    expect(collect).not.toHaveBeenCalled();
    expect(off.enabled).toBe(false);
    expect(none.enabled).toBe(false);
  });

  it("survives a collector that throws", () => {
    vi.useFakeTimers();
    const onCompaction = vi.fn();
    const gc = createIdleGc({
      delayMs: 10,
      collect: () => {
        throw new Error("no");
      },
      onCompaction,
    });
    gc.idle();
    expect(() => vi.advanceTimersByTime(20)).not.toThrow();
    expect(onCompaction).not.toHaveBeenCalled();
  });

  it("finds V8's collector: calling it runs a major collection, and later contexts get no gc", async () => {
    const found = findCollector();
    expect(found).toBeDefined();
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ["gc"] });
    try {
      found?.collect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      observer.disconnect();
    }
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
    if (found?.source === "context") expect(runInNewContext("typeof gc")).toBe("undefined");
  });
});
