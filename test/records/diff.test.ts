import { describe, expect, it } from "vitest";
import { diffSnapshots, formatDiff, hasChanges, unifiedDiff } from "../../src/records/diff.ts";
import { type JobSnapshot, takeSnapshot } from "../../src/records/snapshots.ts";

const snap = (job: string, outputs: Record<string, unknown>, status = "finished"): JobSnapshot =>
  takeSnapshot({ job, type: "noop", status, outputs });

describe("diffSnapshots", () => {
  it("marks each item added, changed, removed or unchanged", () => {
    const before = { a: snap("a", { keep: 1, change: "x", gone: true }), old: snap("old", {}) };
    const after = { a: snap("a", { keep: 1, change: "y", fresh: 2 }), new: snap("new", {}) };
    const entries = diffSnapshots(before, after);
    expect(entries.map((e) => `${e.mark} ${e.job} ${e.key}`)).toEqual([
      "= a status",
      "~ a output.change",
      "+ a output.fresh",
      "- a output.gone",
      "= a output.keep",
      "+ new status",
      "- old status",
    ]);
    expect(hasChanges(entries)).toBe(true);
  });

  it("finds nothing between equal runs", () => {
    const entries = diffSnapshots({ a: snap("a", { x: 1 }) }, { a: snap("a", { x: 1 }) });
    expect(hasChanges(entries)).toBe(false);
    expect(formatDiff(entries)).toBe("");
    expect(formatDiff(entries, { all: true }).split("\n")).toHaveLength(2);
  });
});

describe("formatDiff", () => {
  const entries = diffSnapshots(
    { a: snap("a", { greeting: "hello, world", n: 1 }) },
    { a: snap("a", { greeting: "hello, moon", n: 1 }) },
  );

  it("hides unchanged items and shows before → after", () => {
    expect(formatDiff(entries)).toBe('~ a  output.greeting  "hello, world" → "hello, moon"');
  });

  it("adds a unified diff per changed item with --detail", () => {
    expect(formatDiff(entries, { detail: true }).split("\n")).toEqual([
      '~ a  output.greeting  "hello, world" → "hello, moon"',
      "    --- a/a/output.greeting",
      "    +++ b/a/output.greeting",
      "    @@ -1,1 +1,1 @@",
      '    -"hello, world"',
      '    +"hello, moon"',
    ]);
  });
});

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("a\nb", "a\nb")).toBe("");
  });

  it("keeps three lines of context and splits distant changes into hunks", () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const b = [...a];
    b[1] = "changed 2";
    b[17] = "changed 18";
    const out = unifiedDiff(a.join("\n"), b.join("\n")).split("\n");
    expect(out.filter((l) => l.startsWith("@@"))).toEqual(["@@ -1,5 +1,5 @@", "@@ -15,6 +15,6 @@"]);
    expect(out).toContain("-line 2");
    expect(out).toContain("+changed 2");
    expect(out).toContain("+changed 18");
    expect(out).not.toContain(" line 10");
  });

  it("handles added and removed texts", () => {
    expect(unifiedDiff("", "x\ny").split("\n").slice(2)).toEqual(["@@ -0,0 +1,2 @@", "+x", "+y"]);
    expect(unifiedDiff("x", "").split("\n").slice(2)).toEqual(["@@ -1,1 +0,0 @@", "-x"]);
  });
});
