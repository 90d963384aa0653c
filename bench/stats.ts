/**
 * The benchmark's pure parts: percentiles of samples, number formatting, and the one markdown table
 * (figure | measured | floor | target | ok?) that `npm run bench` prints and docs/performance.md holds.
 */

/** One row of the result table. */
export interface BenchRow {
  /** What is measured, e.g. "pickup latency p50". */
  figure: string;
  /** The measured value, formatted with its unit. */
  measured: string;
  /** The floor measured in the same run (what the hardware alone costs), or "—". */
  floor: string;
  /** The target, e.g. "≤ 5 ms", or "—" when there is none. */
  target: string;
  /** Whether the target is met; undefined when there is no target or the figure could not be measured. */
  ok: boolean | undefined;
}

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The median (50th percentile by nearest rank); NaN when empty. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Milliseconds with a precision that suits their size: `0.42 ms`, `3.1 ms`, `41 ms`, `1.20 s`; "n/a" for NaN. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** A number with `digits` decimals and a unit; "n/a" when not finite. */
export function formatNumber(value: number, unit: string, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return unit === "" ? value.toFixed(digits) : `${value.toFixed(digits)} ${unit}`;
}

/** "yes", "NO" (loud, so a missed target stands out), or "—" when there is no verdict. */
export function verdict(ok: boolean | undefined): string {
  if (ok === undefined) return "—";
  return ok ? "yes" : "NO";
}

/** Whether `value` is at most `limit` (undefined when the value was not measured). */
export function atMost(value: number, limit: number): boolean | undefined {
  return Number.isFinite(value) ? value <= limit : undefined;
}

/** Whether `value` is at least `limit` (undefined when the value was not measured). */
export function atLeast(value: number, limit: number): boolean | undefined {
  return Number.isFinite(value) ? value >= limit : undefined;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The rows as a markdown table, columns padded so the text reads aligned in a terminal too. */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = ["figure", "measured", "floor", "target", "ok?"];
  const body = rows.map((r) => [r.figure, r.measured, r.floor, r.target, verdict(r.ok)].map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => [...(line[i] ?? "")].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + " ".repeat((widths[i] ?? 0) - [...c].length)).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(header), rule, ...body.map(line)].join("\n");
}
