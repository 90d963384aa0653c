/**
 * Comparing two runs' snapshots (`runner diff`): per job and item, `+` added, `~` changed, `-` removed,
 * `=` unchanged; and a small unified line diff for `--detail`. Pure, so it is table-tested.
 */
import type { JobSnapshot, SnapshotItem } from "./snapshots.ts";

/** What happened to an item between two runs. */
export type DiffMark = "+" | "~" | "-" | "=";

/** One compared item. */
export interface DiffEntry {
  mark: DiffMark;
  job: string;
  key: string;
  before?: SnapshotItem;
  after?: SnapshotItem;
}

/** Compares the snapshots of run A (`before`) with run B (`after`): jobs in B's order, then A's others. */
export function diffSnapshots(
  before: Readonly<Record<string, JobSnapshot>>,
  after: Readonly<Record<string, JobSnapshot>>,
): DiffEntry[] {
  const jobs = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  const out: DiffEntry[] = [];
  for (const job of jobs) {
    const a = new Map((before[job]?.items ?? []).map((i) => [i.key, i]));
    const b = new Map((after[job]?.items ?? []).map((i) => [i.key, i]));
    const keys = [...new Set([...b.keys(), ...a.keys()])].sort(byKey);
    for (const key of keys) {
      const x = a.get(key);
      const y = b.get(key);
      const mark: DiffMark = x === undefined ? "+" : y === undefined ? "-" : x.hash === y.hash ? "=" : "~";
      out.push({
        mark,
        job,
        key,
        ...(x !== undefined ? { before: x } : {}),
        ...(y !== undefined ? { after: y } : {}),
      });
    }
  }
  return out;
}

/** `status` first, then outputs, resources, the rest, each alphabetically. */
function byKey(a: string, b: string): number {
  const rank = (k: string) =>
    k === "status" ? 0 : k.startsWith("output.") ? 1 : k.startsWith("resource.") ? 2 : 3;
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Whether anything differs. */
export function hasChanges(entries: readonly DiffEntry[]): boolean {
  return entries.some((e) => e.mark !== "=");
}

/** Options of formatDiff. */
export interface FormatDiffOptions {
  /** Show unchanged (`=`) items too; default false. */
  all?: boolean;
  /** A unified diff under each changed item; default false. */
  detail?: boolean;
}

/** The diff as text: one `<mark> <job>  <key>  <summary>` line per item. */
export function formatDiff(entries: readonly DiffEntry[], opts: FormatDiffOptions = {}): string {
  const shown = entries.filter((e) => opts.all === true || e.mark !== "=");
  const jobWidth = Math.max(0, ...shown.map((e) => e.job.length));
  const keyWidth = Math.max(0, ...shown.map((e) => e.key.length));
  const lines: string[] = [];
  for (const e of shown) {
    const summary =
      e.mark === "~"
        ? `${e.before?.summary ?? ""} → ${e.after?.summary ?? ""}`
        : ((e.after ?? e.before)?.summary ?? "");
    lines.push(`${e.mark} ${e.job.padEnd(jobWidth)}  ${e.key.padEnd(keyWidth)}  ${summary}`.trimEnd());
    if (opts.detail === true && e.mark !== "=") {
      const text = unifiedDiff(e.before?.detail ?? "", e.after?.detail ?? "", {
        fromLabel: `a/${e.job}/${e.key}`,
        toLabel: `b/${e.job}/${e.key}`,
      });
      for (const l of text.split("\n")) if (l !== "") lines.push(`    ${l}`);
    }
  }
  return lines.join("\n");
}

/** Options of unifiedDiff. */
export interface UnifiedDiffOptions {
  /** Unchanged lines around each change; default 3. */
  context?: number;
  fromLabel?: string;
  toLabel?: string;
}

type Op = { kind: " " | "-" | "+"; line: string };

/** A unified diff of two texts, line by line (empty string when they are equal). */
export function unifiedDiff(a: string, b: string, opts: UnifiedDiffOptions = {}): string {
  if (a === b) return "";
  const x = a === "" ? [] : a.split("\n");
  const y = b === "" ? [] : b.split("\n");
  const ops = lineOps(x, y);
  const context = opts.context ?? 3;
  const out = [`--- ${opts.fromLabel ?? "a"}`, `+++ ${opts.toLabel ?? "b"}`];
  const changes = ops.flatMap((o, index) => (o.kind === " " ? [] : [index]));
  let g = 0;
  while (g < changes.length) {
    let last = g;
    while (last + 1 < changes.length && changes[last + 1]! - changes[last]! <= context * 2 + 1) last += 1;
    const start = Math.max(0, changes[g]! - context);
    const end = Math.min(ops.length, changes[last]! + context + 1);
    const hunk = ops.slice(start, end);
    const aStart = ops.slice(0, start).filter((o) => o.kind !== "+").length;
    const bStart = ops.slice(0, start).filter((o) => o.kind !== "-").length;
    const aLen = hunk.filter((o) => o.kind !== "+").length;
    const bLen = hunk.filter((o) => o.kind !== "-").length;
    out.push(
      `@@ -${aLen === 0 ? aStart : aStart + 1},${aLen} +${bLen === 0 ? bStart : bStart + 1},${bLen} @@`,
    );
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    g = last + 1;
  }
  return out.join("\n");
}

/** The edit script between two line lists (longest common subsequence; large inputs fall back to replace). */
function lineOps(x: readonly string[], y: readonly string[]): Op[] {
  if (x.length * y.length > 4_000_000) {
    return [
      ...x.map((line) => ({ kind: "-" as const, line })),
      ...y.map((line) => ({ kind: "+" as const, line })),
    ];
  }
  const n = x.length;
  const m = y.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      ops.push({ kind: " ", line: x[i]! });
      i += 1;
      j += 1;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      ops.push({ kind: "-", line: x[i]! });
      i += 1;
    } else {
      ops.push({ kind: "+", line: y[j]! });
      j += 1;
    }
  }
  for (; i < n; i += 1) ops.push({ kind: "-", line: x[i]! });
  for (; j < m; j += 1) ops.push({ kind: "+", line: y[j]! });
  return ops;
}
