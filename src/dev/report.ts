/**
 * What run-local prints when the run ended: in text mode the summary table, each failed job's full error
 * with its step, and one line naming the record and the log; with `-o json` one JSON document (and nothing
 * else on stdout).
 */
import type { Writable } from "node:stream";
import type { RunStatus } from "../events/events.ts";
import type { RunRecord } from "../records/run-record.ts";
import { formatMs, formatSummary } from "./summary.ts";

/** The end of a run, as reported. */
export interface RunReport {
  runId: string;
  status: RunStatus;
  exitCode: number;
  durationMs: number;
  reason?: string;
  /** The record file; undefined with --no-record. */
  recordFile: string | undefined;
  logFile: string;
  /** The record built from the events (undefined when the run never started). */
  record: RunRecord | undefined;
}

/** Writes the report. */
export function writeReport(format: "text" | "json", out: Writable, report: RunReport): void {
  const { record } = report;
  if (format === "json") {
    const doc = {
      runId: report.runId,
      status: report.status,
      exitCode: report.exitCode,
      durationMs: report.durationMs,
      ...(report.reason !== undefined ? { reason: report.reason } : {}),
      record: report.recordFile ?? null,
      logFile: report.logFile,
      jobs: record?.jobs ?? [],
    };
    out.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  if (record === undefined) return;
  out.write(`\n${formatSummary(record.jobs)}\n`);
  for (const j of record.jobs) {
    if (j.error !== undefined && j.status !== "skipped" && j.status !== "cancelled")
      out.write(
        `\n${j.name} ${j.status}${j.failedStep !== undefined ? ` at step ${j.failedStep}` : ""}: ${j.error}\n`,
      );
  }
  const where = report.recordFile !== undefined ? ` · record: ${report.recordFile}` : "";
  out.write(
    `\nrun ${report.runId}: ${report.status} in ${formatMs(report.durationMs)}${where} · log: ${report.logFile}\n`,
  );
}
