/**
 * The table printed at the end of a run (and by `runner runs show`): one row per job with its type, status,
 * duration, outputs (short) and error. Pure text functions, so they are table-tested.
 */
import type { JobRecord } from "../records/run-record.ts";

/** Formats milliseconds for people: `850ms`, `1.2s`, `2m05s`, `1h02m`. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m${String(totalS % 60).padStart(2, "0")}s`;
  const totalM = Math.floor(totalS / 60);
  return `${Math.floor(totalM / 60)}h${String(totalM % 60).padStart(2, "0")}m`;
}

/** Cuts `text` to `max` characters (one line), ending with `…` when cut. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, " ");
  if (max <= 0) return "";
  return flat.length > max ? `${flat.slice(0, Math.max(0, max - 1))}…` : flat;
}

/** Outputs as `k=v, k2=v2`, cut to `max` characters; `-` when there are none. */
export function shortOutputs(outputs: Record<string, unknown> | undefined, type: string, max = 40): string {
  if (outputs === undefined) return "-";
  const parts = Object.keys(outputs)
    .filter((k) => !(type === "actions-workflow" && k === "steps"))
    .sort()
    .map((k) => {
      const v = outputs[k];
      return `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
    });
  return parts.length === 0 ? "-" : truncate(parts.join(", "), max);
}

/** The error column: `[step] message`, cut to `max`. */
export function shortError(job: Pick<JobRecord, "error" | "failedStep">, max = 70): string {
  if (job.error === undefined) return "";
  return truncate(job.failedStep !== undefined ? `[${job.failedStep}] ${job.error}` : job.error, max);
}

/** Lays out rows as columns separated by two spaces (the last column is not padded). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The summary table of a run's jobs. */
export function formatSummary(
  jobs: ReadonlyArray<
    Pick<JobRecord, "name" | "type" | "status" | "durationMs" | "outputs" | "error" | "failedStep">
  >,
): string {
  return formatTable(
    ["JOB", "TYPE", "STATUS", "DURATION", "OUTPUTS", "ERROR"],
    jobs.map((j) => [
      j.name,
      j.type,
      j.status,
      formatMs(j.durationMs),
      shortOutputs(j.outputs, j.type),
      shortError(j),
    ]),
  );
}
