/**
 * The benchmark harness's pure parts: percentiles, formatting, the table, the verdicts against the targets,
 * and the generated block of docs/performance.md. The benchmark itself (`npm run bench`) is not run here.
 */
import { describe, expect, it } from "vitest";
import { cpuModelOf } from "../../bench/machine.ts";
import { base64OutputMb } from "../../bench/output-flood.ts";
import { BEGIN_MARKER, END_MARKER, renderResults, replaceResults } from "../../bench/report.ts";
import { buildRows, type Measured } from "../../bench/rows.ts";
import { type BenchRow, formatMs, formatTable, median, percentile } from "../../bench/stats.ts";

const machine = { date: "2025-01-02", nproc: 2, memoryGiB: 3.9, node: "v24.21.0", cpuModel: "Test CPU" };

function measured(overrides: Partial<Measured> = {}): Measured {
  const error = { ok: false as const, error: "skipped" };
  return {
    floors: { rttP50Ms: 0.5, rttP99Ms: 2, spawnTrueMs: 1, spawnNodeMs: 40, nodeRssMb: 44 },
    firstPoll: error,
    firstPollSources: error,
    idleRssMb: error,
    sequential: error,
    throughput1: error,
    throughput16: error,
    throughput16Early: error,
    heartbeat: error,
    extra: [],
    ...overrides,
  };
}

describe("bench harness", () => {
  it("takes percentiles by nearest rank, whatever the input order", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 90)).toBe(9);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(median([3, 1, 2])).toBe(2);
    expect(percentile([], 50)).toBeNaN();
    expect(values).toEqual([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
  });

  it("formats milliseconds with a precision that suits their size", () => {
    expect(formatMs(0.423)).toBe("0.42 ms");
    expect(formatMs(41.26)).toBe("41.3 ms");
    expect(formatMs(412.6)).toBe("413 ms");
    expect(formatMs(1234)).toBe("1.23 s");
    expect(formatMs(Number.NaN)).toBe("n/a");
  });

  it("prints an aligned markdown table with a verdict column and escaped pipes", () => {
    const rows: BenchRow[] = [
      { figure: "a", measured: "1 ms", floor: "0.5 ms", target: "≤ 5 ms", ok: true },
      { figure: "b | c", measured: "600 ms", floor: "—", target: "≤ 500 ms", ok: false },
      { figure: "d", measured: "3", floor: "—", target: "—", ok: undefined },
    ];
    const lines = formatTable(rows).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^\| figure +\| measured +\| floor +\| target +\| ok\? \|$/);
    expect(lines[1]).toMatch(/^\| -+ \| -+ \| -+ \| -+ \| -+ \|$/);
    expect(lines[2]).toContain("| yes |");
    expect(lines[3]).toContain("b \\| c");
    expect(lines[3]).toContain("| NO  |");
    expect(lines[4]).toContain("| —   |");
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
  });

  it("judges each figure against its target and says when a scenario could not be measured", () => {
    const rows = buildRows(
      measured({
        sequential: {
          ok: true,
          value: {
            samples: 200,
            pickupP50Ms: 6,
            pickupP99Ms: 20,
            wallP50Ms: 4,
            requestsPerJob: { TailRunnerJobs: 1, CreateRunnerJobExecution: 1, UpdateRunnerJobExecution: 4 },
            requestsPerJobTotal: 6,
            failed: 0,
          },
        },
        idleRssMb: { ok: true, value: 79 },
        firstPoll: { ok: false, error: "the runner exited" },
      }),
    );
    const byFigure = (prefix: string) => rows.find((r) => r.figure.startsWith(prefix));
    expect(byFigure("pickup latency p50")?.ok).toBe(false);
    expect(byFigure("pickup latency p99")?.ok).toBe(true);
    expect(byFigure("requests per noop job")?.ok).toBe(true);
    expect(byFigure("noop job wall time")?.ok).toBe(true); // 4 ms ≤ 10 × 0.5 ms
    expect(byFigure("idle RSS")?.ok).toBe(true);
    expect(byFigure("idle RSS")?.floor).toContain("44 MB");
    const firstPoll = byFigure("time from start to first poll");
    expect(firstPoll?.measured).toBe("not measured: the runner exited");
    expect(firstPoll?.ok).toBeUndefined();
  });

  it("replaces only the generated block of the performance document", () => {
    const report = {
      machine,
      loadAverage: { start: 0.5, end: 0.7 },
      seconds: 120,
      rows: [{ figure: "x", measured: "1", floor: "—", target: "≤ 0", ok: false }],
      notes: ["a note"],
    };
    const block = renderResults(report);
    expect(block.startsWith(BEGIN_MARKER)).toBe(true);
    expect(block.endsWith(END_MARKER)).toBe(true);
    expect(block).toContain("2 CPUs (Test CPU), 3.9 GiB memory, Node v24.21.0");
    expect(block).toContain("Targets missed: x.");
    expect(block).toContain("- a note");
    const doc = `# Performance\n\nintro\n\n${BEGIN_MARKER}\nold\n${END_MARKER}\n\n## Causes\n\nprose\n`;
    const updated = replaceResults(doc, block);
    expect(updated).toContain("intro");
    expect(updated).toContain("## Causes\n\nprose");
    expect(updated).not.toContain("old");
    expect(replaceResults("# Performance\n", block)).toBe(`# Performance\n\n${block}\n`);
  });

  it("reads the CPU model and sizes the flood job's output", () => {
    expect(cpuModelOf("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n")).toBe("AMD EPYC 7B13");
    expect(cpuModelOf("")).toBe("unknown");
    expect(base64OutputMb(75_000_000)).toBeCloseTo(101.3, 1);
  });
});
