/**
 * A run record as text for the terminal (`runner runs show`): the run's header, then each job with its steps
 * as bars on one time axis (from the run's start to its end), so what ran when, and for how long, is seen at
 * a glance. Pure, so it is tested on records built by hand.
 */
import { formatMs, formatSummary, truncate } from "../dev/summary.ts";
import type { RunSettingsView } from "../events/events.ts";
import type { JobRecord, RunRecord, StepRecord } from "./run-record.ts";

/** Options of formatTimeline. */
export interface TimelineOptions {
  /** Width of the bars in characters; default 40. */
  barWidth?: number;
}

/** Start and end of the time axis, in epoch ms. */
export function timeAxis(record: RunRecord): { startMs: number; endMs: number } {
  const startMs = Date.parse(record.startedAt);
  const ends = [record.endedAt, ...record.jobs.flatMap((j) => [j.endedAt, ...j.steps.map((s) => s.endedAt)])]
    .filter((t): t is string => t !== undefined)
    .map((t) => Date.parse(t))
    .filter((t) => !Number.isNaN(t));
  const endMs = Math.max(startMs + 1, ...ends);
  return { startMs, endMs };
}

/** Where a step sits on the axis, as fractions [0, 1] of it; undefined when it has no start. */
export function stepSpan(
  step: Pick<StepRecord, "startedAt" | "endedAt" | "durationMs">,
  axis: { startMs: number; endMs: number },
): { from: number; to: number } | undefined {
  if (step.startedAt === undefined) return undefined;
  const s = Date.parse(step.startedAt);
  if (Number.isNaN(s)) return undefined;
  const e = step.endedAt !== undefined ? Date.parse(step.endedAt) : s + (step.durationMs ?? 0);
  const total = axis.endMs - axis.startMs;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  return {
    from: clamp((s - axis.startMs) / total),
    to: clamp(((Number.isNaN(e) ? s : e) - axis.startMs) / total),
  };
}

function bar(span: { from: number; to: number } | undefined, width: number): string {
  if (span === undefined) return " ".repeat(width);
  const from = Math.min(width - 1, Math.floor(span.from * width));
  const to = Math.max(from + 1, Math.min(width, Math.round(span.to * width)));
  return " ".repeat(from) + "█".repeat(to - from) + " ".repeat(width - to);
}

function stepLabel(step: StepRecord): string {
  return step.kind === "action" ? `step ${step.name}` : step.name;
}

/** The run as text: header, a timeline of every job's steps, the summary table and the errors. */
export function formatTimeline(record: RunRecord, opts: TimelineOptions = {}): string {
  const width = opts.barWidth ?? 40;
  const axis = timeAxis(record);
  const lines: string[] = [];
  const exit = record.exitCode !== undefined ? ` (exit ${record.exitCode})` : "";
  lines.push(`run ${record.runId}  ${record.status}${exit}  ${formatMs(record.durationMs)}`);
  lines.push(
    `started ${record.startedAt}${record.endedAt !== undefined ? ` · ended ${record.endedAt}` : ""}`,
  );
  lines.push(`job files: ${record.jobFiles.join(", ")}`);
  const s: Partial<RunSettingsView> = record.settings;
  lines.push(
    `settings: fail-fast ${s.failFast === true ? "on" : "off"} · timeout ${formatMs(s.timeoutMs)} · concurrency ${String(s.concurrency ?? "-")} · control plane ${String(s.controlPlane ?? "-")}`,
  );
  if (record.reason !== undefined) lines.push(`reason: ${record.reason}`);
  lines.push("");
  const labelWidth = Math.max(
    12,
    ...record.jobs.flatMap((j) => j.steps.map((st) => stepLabel(st).length + 2)),
    ...record.jobs.map((j) => j.name.length),
  );
  lines.push(
    `${"".padEnd(labelWidth)}  ${formatMs(0).padEnd(width / 2)}${formatMs(axis.endMs - axis.startMs).padStart(width / 2)}`,
  );
  for (const job of record.jobs) {
    lines.push(jobHeader(job, labelWidth, width, axis));
    for (const step of job.steps) {
      const span = stepSpan(step, axis);
      lines.push(
        `  ${stepLabel(step).padEnd(labelWidth - 2)}  ▕${bar(span, width)}▏ ${formatMs(step.durationMs).padStart(6)}  ${step.status}`,
      );
    }
  }
  lines.push("", formatSummary(record.jobs));
  const errors = record.jobs.filter((j) => j.error !== undefined);
  if (errors.length > 0) {
    lines.push("");
    for (const j of errors)
      lines.push(
        `${j.name} ${j.status}${j.failedStep !== undefined ? ` at step ${j.failedStep}` : ""}: ${truncate(j.error ?? "", 500)}`,
      );
  }
  return lines.join("\n");
}

function jobHeader(
  job: JobRecord,
  labelWidth: number,
  width: number,
  axis: { startMs: number; endMs: number },
): string {
  const start = job.enqueuedAt ?? job.startedAt;
  const span =
    start === undefined
      ? undefined
      : stepSpan({ startedAt: start, ...(job.endedAt !== undefined ? { endedAt: job.endedAt } : {}) }, axis);
  const line = span === undefined ? " ".repeat(width) : bar(span, width).replaceAll("█", "─");
  return `${job.name.padEnd(labelWidth)}  ▕${line}▏ ${formatMs(job.durationMs).padStart(6)}  ${job.status} (${job.type})`;
}
