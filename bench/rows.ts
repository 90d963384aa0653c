/**
 * Turns the measured results into the table's rows, each beside its floor and target. Pure: run.ts measures,
 * this file only formats and judges. A scenario that failed is one row saying so, with no verdict.
 */
import type { SequentialResult, ThroughputResult } from "./agent-jobs.ts";
import type { HeartbeatGapResult } from "./output-flood.ts";
import { atLeast, atMost, type BenchRow, formatMs, formatNumber, median, percentile } from "./stats.ts";

/** The targets (issue "The agent", item 10). */
export const TARGETS = {
  pickupP50Ms: 5,
  pickupP99Ms: 50,
  roundTripsPerJob: 10,
  throughput16PerSecond: 500,
  heartbeatGapFactor: 1.5,
  idleRssMb: 80,
  firstPollMs: 500,
} as const;

/** A scenario's result, or why it could not be measured. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** Everything run.ts measured (each part may have failed). */
export interface Measured {
  floors: { rttP50Ms: number; rttP99Ms: number; spawnTrueMs: number; spawnNodeMs: number; nodeRssMb: number };
  firstPoll: Outcome<number[]>;
  firstPollSources: Outcome<number[]>;
  idleRssMb: Outcome<number>;
  sequential: Outcome<SequentialResult>;
  throughput1: Outcome<ThroughputResult>;
  /** At concurrency 16, steady state (the target's figure). */
  throughput16: Outcome<ThroughputResult>;
  /** At concurrency 16, the first jobs after the runner started. */
  throughput16Early: Outcome<ThroughputResult>;
  heartbeat: Outcome<HeartbeatGapResult>;
  /** Rows from bench/redact.ts and bench/logs.ts (already formatted), or why they are missing. */
  extra: BenchRow[];
}

/** One row that says a scenario failed. */
export function failedRow(figure: string, error: string, target = "—"): BenchRow {
  return { figure, measured: `not measured: ${error.slice(0, 120)}`, floor: "—", target, ok: undefined };
}

function rowsOf<T>(outcome: Outcome<T>, figure: string, target: string, build: (v: T) => BenchRow[]) {
  return outcome.ok ? build(outcome.value) : [failedRow(figure, outcome.error, target)];
}

/** The table's rows, in the order they are printed. */
export function buildRows(m: Measured): BenchRow[] {
  const f = m.floors;
  const rows: BenchRow[] = [];
  rows.push(
    ...rowsOf(m.sequential, "pickup latency p50", `≤ ${TARGETS.pickupP50Ms} ms`, (s) => [
      {
        figure: "pickup latency p50 (available → claimed)",
        measured: formatMs(s.pickupP50Ms),
        floor: `2 round trips: ${formatMs(2 * f.rttP50Ms)}`,
        target: `≤ ${TARGETS.pickupP50Ms} ms`,
        ok: atMost(s.pickupP50Ms, TARGETS.pickupP50Ms),
      },
      {
        figure: "pickup latency p99",
        measured: formatMs(s.pickupP99Ms),
        floor: `2 round trips at p99: ${formatMs(2 * f.rttP99Ms)}`,
        target: `≤ ${TARGETS.pickupP99Ms} ms`,
        ok: atMost(s.pickupP99Ms, TARGETS.pickupP99Ms),
      },
      {
        figure: "requests per noop job (heartbeats aside)",
        measured: formatNumber(s.requestsPerJobTotal, "", 1),
        floor: "—",
        target: `≤ ${TARGETS.roundTripsPerJob}`,
        ok: atMost(s.requestsPerJobTotal, TARGETS.roundTripsPerJob),
      },
      {
        figure: "noop job wall time p50, concurrency 1 (enqueue → terminal)",
        measured: formatMs(s.wallP50Ms),
        floor: `${formatNumber(s.requestsPerJobTotal, "", 0)} round trips: ${formatMs(s.requestsPerJobTotal * f.rttP50Ms)}`,
        target: `≤ ${TARGETS.roundTripsPerJob} round trips (${formatMs(TARGETS.roundTripsPerJob * f.rttP50Ms)})`,
        ok: atMost(s.wallP50Ms, TARGETS.roundTripsPerJob * f.rttP50Ms),
      },
    ]),
  );
  const ceiling = (trips: number) => formatNumber(1000 / (trips * f.rttP50Ms), "jobs/s");
  rows.push(
    ...rowsOf(m.throughput1, "noop throughput, concurrency 1", "—", (t) => [
      {
        figure: "noop throughput, concurrency 1",
        measured: `${formatNumber(t.jobsPerSecond, "jobs/s")} (${t.completed}/${t.jobs})`,
        floor: `ceiling of ${m.sequential.ok ? m.sequential.value.requestsPerJobTotal.toFixed(0) : "8"} serial round trips: ${ceiling(m.sequential.ok ? m.sequential.value.requestsPerJobTotal : 8)}`,
        target: "—",
        ok: undefined,
      },
    ]),
    ...rowsOf(m.throughput16Early, "noop throughput, concurrency 16, jobs 51–650 after start", "—", (t) => [
      {
        figure: "noop throughput, concurrency 16, jobs 51–650 after start",
        measured: `${formatNumber(t.jobsPerSecond, "jobs/s")} (${t.completed}/${t.jobs})`,
        floor: `ceiling of the serial ask + claim: ${ceiling(2)}`,
        target: "—",
        ok: undefined,
      },
    ]),
    ...rowsOf(
      m.throughput16,
      "noop throughput, concurrency 16, steady state",
      `≥ ${TARGETS.throughput16PerSecond} jobs/s`,
      (t) => [
        {
          figure: "noop throughput, concurrency 16, steady state (after 1,650 jobs)",
          measured: `${formatNumber(t.jobsPerSecond, "jobs/s")} (${t.completed}/${t.jobs})`,
          floor: `ceiling of the serial ask + claim: ${ceiling(2)}`,
          target: `≥ ${TARGETS.throughput16PerSecond} jobs/s`,
          ok: t.timedOut ? false : atLeast(t.jobsPerSecond, TARGETS.throughput16PerSecond),
        },
      ],
    ),
  );
  rows.push(
    ...rowsOf(m.heartbeat, "worst heartbeat gap during 100 MB of job output", "≤ 1.5 × interval", (h) => [
      {
        figure: `worst heartbeat gap during ${h.outputMb.toFixed(0)} MB of job output (received)`,
        measured: `${formatMs(h.worstGapMs)} (${h.beats} beats, job ${h.status} in ${h.jobSeconds.toFixed(1)} s)`,
        floor: `interval ${formatMs(h.intervalMs)}`,
        target: `≤ ${TARGETS.heartbeatGapFactor} × interval (${formatMs(TARGETS.heartbeatGapFactor * h.intervalMs)})`,
        ok: h.status === "finished" ? atMost(h.worstGapMs, TARGETS.heartbeatGapFactor * h.intervalMs) : false,
      },
    ]),
  );
  rows.push(
    ...rowsOf(m.idleRssMb, "idle RSS", `≤ ${TARGETS.idleRssMb} MB`, (rss) => [
      {
        figure: "idle RSS of the runner (bundle)",
        measured: formatNumber(rss, "MB"),
        floor: `bare node idle: ${formatNumber(f.nodeRssMb, "MB")}`,
        target: `≤ ${TARGETS.idleRssMb} MB`,
        ok: atMost(rss, TARGETS.idleRssMb),
      },
    ]),
    ...rowsOf(m.firstPoll, "time from start to first poll", `≤ ${TARGETS.firstPollMs} ms`, (s) => [
      {
        figure: `time from spawn to first poll (bundle, median of ${s.length})`,
        measured: `${formatMs(median(s))} (max ${formatMs(percentile(s, 100))})`,
        floor: `spawn true ${formatMs(f.spawnTrueMs)}; node -e 0 ${formatMs(f.spawnNodeMs)}`,
        target: `≤ ${TARGETS.firstPollMs} ms`,
        ok: atMost(median(s), TARGETS.firstPollMs),
      },
    ]),
    ...rowsOf(m.firstPollSources, "time to first poll (sources)", "—", (s) => [
      {
        figure: `time from spawn to first poll (bin/runner.js from sources, median of ${s.length})`,
        measured: formatMs(median(s)),
        floor: `node -e 0 ${formatMs(f.spawnNodeMs)}`,
        target: "—",
        ok: undefined,
      },
    ]),
  );
  rows.push(...m.extra);
  return rows;
}
