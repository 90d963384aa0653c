import { describe, expect, it } from "vitest";
import { escapeHtml, renderRunHtml } from "../../src/records/html.ts";
import { applyEvent, type RunRecord } from "../../src/records/run-record.ts";
import { formatTimeline } from "../../src/records/timeline.ts";
import { clockedBus, playRun } from "./support/sample-run.ts";

function recordOf(firstJob = "build"): RunRecord {
  const { bus, at } = clockedBus();
  let record: RunRecord | undefined;
  bus.onAny((e) => {
    record = applyEvent(record, e);
  });
  playRun(bus, at, { firstJob });
  return record!;
}

describe("the HTML page of a run", () => {
  it("escapes & < > \" '", () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  });

  it("shows a job named <script> as text, never as markup", () => {
    const html = renderRunHtml(recordOf("<script>alert(1)</script>"));
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("has the timeline with one bar per step, placed on the run's time axis", () => {
    const html = renderRunHtml(recordOf());
    expect(html).toContain('id="timeline"');
    // initializing ran from 100 ms to 300 ms of a 2000 ms run.
    expect(html).toMatch(/class="bar s-finished"[^>]*style="left:5\.00%;width:10\.00%"/);
    expect(html).toMatch(/class="bar s-error"[^>]*step unit error 300ms/);
    expect(html).toContain("bash exited with code 3");
  });

  it("is self-contained: inline CSS, no script, no external asset", () => {
    const html = renderRunHtml(recordOf());
    expect(html).toContain("<style>");
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
  });
});

describe("the terminal timeline of a run", () => {
  it("draws each step as a bar on the run's axis, with the summary and the errors", () => {
    const text = formatTimeline(recordOf(), { barWidth: 20 });
    const lines = text.split("\n");
    expect(lines[0]).toBe("run r1  failure (exit 1)  2.0s");
    const init = lines.find((l) => l.startsWith("  initializing"));
    // 100-300 ms of 2000 ms on 20 columns: column 1 to 3.
    expect(init).toMatch(/▕ ██ {17}▏ +200ms {2}finished$/);
    expect(lines.find((l) => l.startsWith("  step unit"))).toMatch(/▕ {12}███ {5}▏ +300ms {2}error$/);
    expect(text).toMatch(
      /^test\s+actions-workflow\s+failed\s+400ms\s+-\s+\[unit\] bash exited with code 3$/m,
    );
    expect(text).toContain("test failed at step unit: bash exited with code 3");
  });
});
