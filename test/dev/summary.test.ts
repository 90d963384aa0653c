import { describe, expect, it } from "vitest";
import {
  formatMs,
  formatSummary,
  formatTable,
  shortError,
  shortOutputs,
  truncate,
} from "../../src/dev/summary.ts";

describe("summary formatting", () => {
  it.each([
    [undefined, "-"],
    [0, "0ms"],
    [850, "850ms"],
    [1234, "1.2s"],
    [59_900, "59.9s"],
    [125_000, "2m05s"],
    [3_720_000, "1h02m"],
  ])("formatMs(%s) is %s", (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  it("cuts long text with an ellipsis and flattens lines", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("a\n  b", 10)).toBe("a b");
    expect(truncate("abc", 3)).toBe("abc");
  });

  it("shows outputs short, leaving out a workflow's per-step copy", () => {
    expect(shortOutputs({ b: 2, a: "x", steps: { s: {} } }, "actions-workflow")).toBe("a=x, b=2");
    expect(shortOutputs(undefined, "noop")).toBe("-");
    expect(shortOutputs({ long: "y".repeat(100) }, "noop", 10)).toBe("long=yyyy…");
  });

  it("prefixes the failed step to the error", () => {
    expect(shortError({ error: "exit 3", failedStep: "unit-tests" })).toBe("[unit-tests] exit 3");
    expect(shortError({})).toBe("");
  });

  it("aligns the table's columns", () => {
    expect(formatTable(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });

  it("renders one row per job", () => {
    const text = formatSummary([
      { name: "infra", type: "terraform-deploy", status: "finished", durationMs: 1200, outputs: { g: "hi" } },
      {
        name: "greet",
        type: "actions-workflow",
        status: "failed",
        durationMs: 300,
        error: "boom",
        failedStep: "s",
      },
    ]);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^JOB\s+TYPE\s+STATUS\s+DURATION\s+OUTPUTS\s+ERROR$/);
    expect(lines[1]).toMatch(/^infra\s+terraform-deploy\s+finished\s+1\.2s\s+g=hi$/);
    expect(lines[2]).toMatch(/^greet\s+actions-workflow\s+failed\s+300ms\s+-\s+\[s\] boom$/);
  });
});
