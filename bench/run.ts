/**
 * `npm run bench`: the runner's performance against the embedded control plane on loopback, printed as one
 * markdown table (figure | measured | floor | target | ok?), each figure beside the floor measured in the
 * same run. The runner runs as a child process, from the bundle the image ships (built into a temporary
 * directory first). `--write` also updates the results block of docs/performance.md. Bounded to ~3 minutes.
 *
 *   npm run bench [-- [--write] [--quick]]   (--quick: smaller samples, for trying the harness)
 */
import { readFile, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { type EmbeddedControlPlane, startControlPlane } from "../src/mock-control-plane/server.ts";
import { noopThroughput, sequentialNoops, type ThroughputResult } from "./agent-jobs.ts";
import { buildBenchBundle } from "./bundle.ts";
import { httpRoundTripFloor, journalWriteFloors, spawnFloorMs } from "./floors.ts";
import { machineInfo } from "./machine.ts";
import { heartbeatGapUnderOutput } from "./output-flood.ts";
import { renderResults, replaceResults } from "./report.ts";
import { buildRows, failedRow, type Measured, type Outcome } from "./rows.ts";
import { killAllBenchRunners, NODE, rssMb, runnerStarted, spawnBenchRunner } from "./runner.ts";
import { extraRows } from "./sibling-benches.ts";
import {
  bareNodeRssMb,
  firstPollSamples,
  freshIdleFootprints,
  idleFootprint,
  idleRssMb as settledRssMb,
} from "./startup.ts";
import { type BenchRow, formatMs, formatTable, median } from "./stats.ts";

const DOC = fileURLToPath(new URL("../docs/performance.md", import.meta.url));
/** Jobs a fresh concurrency-16 runner runs before the first measured batch. */
const FIRST_WARMUP_JOBS = 50;
/** Jobs run between that batch and the steady-state one (V8 has compiled the hot paths by then). */
const STEADY_WARMUP_JOBS = 1000;
/** Past this the run is abandoned: children killed, exit 1. */
const HARD_LIMIT_MS = 280_000;

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  process.stderr.write(`bench: ${what}…\n`);
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: ${what} failed: ${message}\n`);
    return { ok: false, error: message };
  }
}

/** Runner 1 (concurrency 1): idle RSS, the round-trip floor, sequential noops, throughput. */
async function concurrencyOne(
  cp: EmbeddedControlPlane,
  entry: string | undefined,
  quick: boolean,
  notes: string[],
) {
  const runner = await spawnBenchRunner(cp, entry !== undefined ? { entry } : {});
  try {
    const idleRss = await attempt("idle RSS", async () => {
      await runnerStarted(runner);
      return idleFootprint(runner.pid);
    });
    const rtt = await httpRoundTripFloor(cp.url, runner.runnerId, runner.token).catch(() => ({
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
    }));
    const samples = quick ? 50 : 200;
    await attempt("warm-up", () => sequentialNoops(cp, runner.runnerId, 20));
    const sequential = await attempt("sequential noops", () => sequentialNoops(cp, runner.runnerId, samples));
    const throughput1 = await attempt("throughput, concurrency 1", () => noopThroughput(cp, runner, samples));
    const afterJobs = rssMb(runner.pid);
    // idle compaction (RUNNER_IDLE_GC_DELAY, default 2 s) runs once the runner has had no job for the delay
    const afterIdle = await settledRssMb(runner.pid);
    notes.push(
      `RSS of that runner after its ${20 + 2 * samples} jobs: ${afterJobs.toFixed(0)} MB; after 3 s without a job (idle compaction): ${afterIdle.toFixed(0)} MB.`,
    );
    return { idleRssMb: idleRss, rtt, sequential, throughput1 };
  } finally {
    await runner.stop();
  }
}

async function measure(cp: EmbeddedControlPlane, entry: string | undefined, quick: boolean) {
  const notes: string[] = [];
  const spawnTrueMs = await spawnFloorMs("true");
  const spawnNodeMs = await spawnFloorMs(NODE, ["-e", "0"], 5);
  const journalWrite = await journalWriteFloors();
  const nodeRssMb = await bareNodeRssMb();
  const firstPoll = await attempt("time to first poll (bundle)", () => firstPollSamples(entry, 3));
  const firstPollSources = await attempt("time to first poll (sources)", () =>
    firstPollSamples(undefined, 1),
  );

  const single = await concurrencyOne(cp, entry, quick, notes);
  // Idle RSS moves by ~5 MB between processes (how many pages of the node binary the kernel maps around each
  // fault): the median of three runners, each measured alike.
  const moreIdle = await attempt("idle RSS (two more runners)", () => freshIdleFootprints(cp, entry, 2));
  const footprints = [
    ...(single.idleRssMb.ok ? [single.idleRssMb.value] : []),
    ...(moreIdle.ok ? moreIdle.value : []),
  ];
  const idleRssMb: Outcome<number> =
    footprints.length > 0
      ? { ok: true, value: median(footprints.map((f) => f.rssMb)) }
      : { ok: false, error: single.idleRssMb.ok ? "no idle RSS was measured" : single.idleRssMb.error };
  if (footprints.length > 0) {
    notes.push(
      `Idle RSS of each runner measured: ${footprints.map((f) => `${f.rssMb.toFixed(1)} MB (anonymous ${f.anonMb.toFixed(1)})`).join(", ")}; the table has the median.`,
    );
  }
  // A runner is a daemon: its throughput is measured once V8 has compiled its hot paths (steady state, after
  // STEADY_WARMUP_JOBS), and the first jobs after its start are reported beside it.
  const sixteenRun = await attempt("throughput, concurrency 16", async () => {
    const env = { RUNNER_CONCURRENCY: "16" };
    const sixteen = await spawnBenchRunner(cp, entry !== undefined ? { entry, env } : { env });
    try {
      await runnerStarted(sixteen);
      const batch = quick ? 200 : 600;
      const warmup = quick ? 200 : STEADY_WARMUP_JOBS;
      await noopThroughput(cp, sixteen, FIRST_WARMUP_JOBS);
      const early = await noopThroughput(cp, sixteen, batch, 40_000);
      await noopThroughput(cp, sixteen, warmup, 40_000);
      const steady = await noopThroughput(cp, sixteen, batch, 40_000);
      const afterJobs = rssMb(sixteen.pid);
      const afterIdle = await settledRssMb(sixteen.pid);
      notes.push(
        `RSS of the concurrency-16 runner after its ${FIRST_WARMUP_JOBS + 2 * batch + warmup} jobs: ${afterJobs.toFixed(0)} MB; after 3 s without a job (idle compaction): ${afterIdle.toFixed(0)} MB.`,
      );
      return { early, steady };
    } finally {
      await sixteen.stop();
    }
  });
  const throughput16: Outcome<ThroughputResult> = sixteenRun.ok
    ? { ok: true, value: sixteenRun.value.steady }
    : sixteenRun;
  const throughput16Early: Outcome<ThroughputResult> = sixteenRun.ok
    ? { ok: true, value: sixteenRun.value.early }
    : sixteenRun;
  const heartbeat = await attempt("heartbeats under 100 MB of output", () =>
    heartbeatGapUnderOutput(cp, entry, quick ? { randomBytes: 7_500_000 } : {}),
  );
  const { rtt, idleRssMb: _first, ...fromSingle } = single;
  notes.push(
    `Floors: loopback round trip ${formatMs(rtt.p50Ms)} p50, ${formatMs(rtt.p99Ms)} p99 (GET settings on a ` +
      `keep-alive connection); spawn of true ${formatMs(spawnTrueMs)}; node -e 0 ${formatMs(spawnNodeMs)}; ` +
      `one journal change in ${tmpdir()}: a write in place ${formatMs(journalWrite.writeMs)} (on a job's path ` +
      `twice, the claim and the outcome, shared between concurrent jobs), then its fdatasync ` +
      `${formatMs(journalWrite.datasyncMs)} (off the path, RUNNER_JOURNAL_SYNC=background).`,
  );
  const floors = { rttP50Ms: rtt.p50Ms, rttP99Ms: rtt.p99Ms, spawnTrueMs, spawnNodeMs, nodeRssMb };
  return {
    measured: {
      floors,
      firstPoll,
      firstPollSources,
      ...fromSingle,
      idleRssMb,
      throughput16,
      throughput16Early,
      heartbeat,
    },
    notes,
  };
}

function describeExtras(m: Omit<Measured, "extra">, notes: string[]): void {
  if (m.sequential.ok) {
    const ops = Object.entries(m.sequential.value.requestsPerJob)
      .map(([op, n]) => `${op} ${Number.isInteger(n) ? n : n.toFixed(2)}`)
      .join(", ");
    notes.push(`Requests per noop job: ${ops}.`);
  }
  for (const [label, t] of [
    ["concurrency 1", m.throughput1],
    ["concurrency 16, the first jobs after start", m.throughput16Early],
    ["concurrency 16, steady state", m.throughput16],
  ] as const) {
    if (!t.ok) continue;
    notes.push(
      `CPU per noop job at ${label}: runner ${formatMs(t.value.runnerCpuMsPerJob)}, control plane and harness ` +
        `${formatMs(t.value.controlPlaneCpuMsPerJob)}; ${t.value.failed} not finished.`,
    );
  }
  if (m.heartbeat.ok && m.heartbeat.value.runnerWorstGapMs !== undefined) {
    notes.push(
      `Worst heartbeat gap as the runner itself sent them: ${formatMs(m.heartbeat.value.runnerWorstGapMs)}.`,
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const write = argv.includes("--write");
  const quick = argv.includes("--quick");
  const startedAt = performance.now();
  const loadStart = loadavg()[0] ?? Number.NaN;
  const guard = setTimeout(() => {
    process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 1000} s; giving up\n`);
    killAllBenchRunners();
    process.exit(1);
  }, HARD_LIMIT_MS);
  guard.unref();
  process.once("exit", killAllBenchRunners); // whatever happens, no runner outlives the benchmark
  process.once("SIGINT", () => {
    killAllBenchRunners();
    process.exit(130);
  });

  const bundle = await attempt("bundling the runner", () => buildBenchBundle());
  const notes: string[] = [];
  if (bundle.ok) notes.push(`Bundle built in ${(bundle.value.buildMs / 1000).toFixed(1)} s (not counted).`);
  else notes.push(`The bundle could not be built (${bundle.error}); every runner ran from its sources.`);
  const cp = await startControlPlane();
  let rows: BenchRow[];
  try {
    const { measured, notes: more } = await measure(cp, bundle.ok ? bundle.value.entry : undefined, quick);
    notes.push(...more);
    describeExtras(measured, notes);
    const extra = await extraRows(quick).catch((err: unknown) => [failedRow("redact / logs", String(err))]);
    rows = buildRows({ ...measured, extra });
  } finally {
    await cp.close();
    if (bundle.ok) await bundle.value.remove();
  }
  const report = {
    machine: machineInfo(),
    loadAverage: { start: loadStart, end: loadavg()[0] ?? Number.NaN },
    seconds: (performance.now() - startedAt) / 1000,
    rows,
    notes,
  };
  process.stdout.write(`${formatTable(rows)}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n`);
  if (write) {
    const doc = await readFile(DOC, "utf8").catch(() => "# Performance\n");
    await writeFile(DOC, replaceResults(doc, renderResults(report)));
    process.stderr.write(`bench: updated ${DOC}\n`);
  }
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
