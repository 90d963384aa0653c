import { describe, expect, it } from "vitest";
import { formatDurationMs, parseDurationMs } from "../../src/config/duration.ts";

describe("parseDurationMs", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["1m30s250ms", 90_250],
    ["1.5s", 1_500],
    [".5s", 500],
    ["2h", 7_200_000],
    ["0s", 0],
    ["250", 250],
    [" 10s ", 10_000],
    [1500, 1500],
    [0, 0],
  ] as const)("reads %j as %i ms", (input, ms) => {
    expect(parseDurationMs(input)).toBe(ms);
  });

  it.each(["", "abc", "-5s", "5 s", "5x", "s", "1d", "10s garbage", "1e3", "Infinity", "1h-30m"])(
    "rejects %j",
    (input) => {
      expect(parseDurationMs(input)).toBeUndefined();
    },
  );

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects the number %d", (input) => {
    expect(parseDurationMs(input)).toBeUndefined();
  });
});

describe("formatDurationMs", () => {
  it.each([
    [0, "0s"],
    [250, "250ms"],
    [1_000, "1s"],
    [25_000, "25s"],
    [90_000, "1m30s"],
    [5_400_000, "1h30m"],
    [3_600_250, "1h250ms"],
  ] as const)("writes %i ms as %j", (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
  });

  it("round-trips through parseDurationMs", () => {
    for (const ms of [1, 999, 1_000, 61_001, 86_400_000, 123_456_789]) {
      expect(parseDurationMs(formatDurationMs(ms))).toBe(ms);
    }
  });
});
