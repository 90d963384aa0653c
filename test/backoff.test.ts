import { describe, expect, it } from "vitest";
import { createBackoff, sleep } from "../src/backoff.ts";

describe("backoff", () => {
  it.each([
    { random: 0, expected: [100, 200, 400, 800, 1000, 1000] },
    { random: 0.5, expected: [90, 180, 360, 720, 900, 900] },
    { random: 0.999999, expected: [80, 160, 320, 640, 800, 800] },
  ])(
    "grows exponentially up to maxMs with jitter below the base (random $random)",
    ({ random, expected }) => {
      const backoff = createBackoff({ initialMs: 100, maxMs: 1000, random: () => random });
      expect(expected.map(() => backoff.next())).toEqual(expected);
    },
  );

  it("starts over after reset", () => {
    const backoff = createBackoff({ initialMs: 50, maxMs: 500, jitterRatio: 0 });
    backoff.next();
    backoff.next();
    expect(backoff.attempts).toBe(2);
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });

  it("never exceeds maxMs nor goes negative with full jitter", () => {
    const backoff = createBackoff({ initialMs: 10, maxMs: 40, jitterRatio: 1 });
    for (let i = 0; i < 50; i++) {
      const d = backoff.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(40);
    }
  });

  it("sleeps until aborted and resolves instead of rejecting", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(5_000, controller.signal);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
