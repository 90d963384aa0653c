/**
 * End-to-end benchmark of job logs: 200 MB of terraform-like job output (with registered secrets) through
 * JobLog (redaction) → spool (disk) → shipper (OTLP protobuf) → the embedded control plane on loopback. The
 * control plane runs in a child process (this file with `--serve`), so the RSS measured is the runner's alone;
 * it checks every request, stores each (execution, sequence number) once and counts what is missing. Prints MB/s
 * of job output delivered (acknowledged), records lost (sequence numbers the control plane never saw and no drop
 * marker explains), records sent twice (the control plane kept one copy), records dropped by the spool cap
 * (explained by markers), and the runner's RSS growth (also less V8's young generation, which V8 sizes to the
 * allocation rate up to its own cap). 1 MB = 10^6 bytes.
 *
 *   node bench/logs.ts              paced: the job writes while the spool holds less than 32 MB unshipped
 *   node bench/logs.ts --burst      unpaced: the job writes as fast as it can (the 100 MiB cap may drop)
 *   node bench/logs.ts --mb 50      a smaller run
 *   node bench/logs.ts --batch-records 2048 --batch-bytes 4194304   other shipper batch limits
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { getHeapSpaceStatistics } from "node:v8";
import { pino } from "pino";
import { createControlPlaneClient } from "../src/control-plane/client.ts";
import { openJobLog } from "../src/logs/job-log.ts";
import { runnerResource } from "../src/logs/otlp-records.ts";
import { createRedactor } from "../src/logs/redact.ts";
import { createShipper } from "../src/logs/shipper.ts";
import { startControlPlane } from "../src/mock-control-plane/server.ts";
import { makeBenchInput } from "./redact.ts";

/** One measured row. */
export interface LogsBenchRow {
  name: string;
  /** Job output written, in MB. */
  mbWritten: number;
  /** Job output delivered per second (until the last record was acknowledged). */
  mbPerSecond: number;
  records: number;
  /** Sequence numbers neither received nor explained by a drop marker. */
  lost: number;
  /** Records the runner sent more than once (the receiver stored each sequence number once and dropped these). */
  duplicated: number;
  /** Dropped by the spool cap and reported in a marker. */
  droppedByCap: number;
  /** Largest RSS growth seen during the run, in MB. */
  rssGrowthMb: number;
  /** The same, less V8's young generation (which V8 sizes to the allocation rate, up to its own cap), in MB. */
  rssGrowthBeyondYoungMb: number;
  /** CPU seconds the runner side spent (this process), and MB of job output per CPU second. */
  cpuSeconds: number;
  mbPerCpuSecond: number;
  /** OTLP bytes on the wire per byte of job output. */
  wireRatio: number;
}

/** Options of `benchLogs`. */
export interface LogsBenchOptions {
  /** Job output to write, in MB; default 200. */
  mb?: number;
  /** Write without waiting for the shipper; default false (paced). */
  burst?: boolean;
  /** Shipper batch limits; default the shipper's (SHIPPER_DEFAULTS). */
  maxBatchRecords?: number;
  maxBatchBytes?: number;
}

/** Unshipped spool bytes above which a paced writer waits. */
const PACE_BYTES = 32e6;

/** What the control-plane child tells the parent. */
type ChildMessage =
  | { type: "ready"; url: string; runnerId: string; token: string; jobId: string }
  | { type: "result"; received: number; lost: number; duplicated: number; droppedByCap: number };

/**
 * The child's role: an embedded control plane. It de-duplicates by (execution, `runner.log.seq`) and counts per
 * execution what it received, what drop markers cover and what is missing (`logStats`), so checking the job's
 * sequence numbers costs nothing per record here.
 */
async function serveControlPlane(): Promise<void> {
  const cp = await startControlPlane();
  const runner = cp.admin.createRunner();
  const job = cp.admin.enqueueJob(runner.id, { type: "terraform-deploy" });
  process.on("message", (msg: { type: "finish"; total: number; executionId: string }) => {
    if (msg.type !== "finish") return;
    const stats = cp.admin.getJob(job.id)!.logStats;
    const exec = stats.executions[msg.executionId] ?? {
      lastSeq: 0,
      received: 0,
      droppedByRunner: 0,
      missing: 0,
    };
    process.send?.({
      type: "result",
      received: exec.received,
      lost: exec.missing + Math.max(0, msg.total - exec.lastSeq),
      duplicated: stats.duplicates,
      droppedByCap: exec.droppedByRunner,
    } satisfies ChildMessage);
    void cp.close().then(() => process.disconnect());
  });
  process.send?.({ type: "ready", url: cp.url, runnerId: runner.id, token: runner.token, jobId: job.id });
}

function nextMessage<T extends ChildMessage["type"]>(
  child: ChildProcess,
  type: T,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: ChildMessage) => {
      if (msg.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(msg as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`the control-plane child exited (${code})`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/** Runs the benchmark once: the runner side here, the control plane in a child process. */
export async function benchLogs(opts: LogsBenchOptions = {}): Promise<LogsBenchRow> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    return await runnerSide(child, opts);
  } finally {
    // Let the child exit on its own (it writes a CPU profile under --cpu-prof), then make sure it is gone.
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

async function runnerSide(child: ChildProcess, opts: LogsBenchOptions): Promise<LogsBenchRow> {
  const targetBytes = (opts.mb ?? 200) * 1e6;
  const { text, secrets } = makeBenchInput(4_000_000);
  const pool = text.split("\n");
  const silent = pino({ level: "silent" });
  const ready = await nextMessage(child, "ready");
  const stateDir = mkdtempSync(join(tmpdir(), "runner-bench-logs-"));
  const client = createControlPlaneClient({
    baseUrl: ready.url,
    token: ready.token,
    runnerId: ready.runnerId,
  });
  const job = await client.getJob(ready.jobId);
  const execution = await client.createExecution(job.id);
  const shipper = createShipper({
    client,
    resource: runnerResource({ runnerId: ready.runnerId, version: "bench" }),
    logger: silent,
    ...(opts.maxBatchRecords === undefined ? {} : { maxBatchRecords: opts.maxBatchRecords }),
    ...(opts.maxBatchBytes === undefined ? {} : { maxBatchBytes: opts.maxBatchBytes }),
  });
  const redactor = createRedactor();
  for (const s of secrets) redactor.add(s);
  const log = openJobLog({
    stateDir,
    job,
    execution,
    stepName: () => "execute",
    redactor,
    logger: silent,
    shipper,
    flushTimeoutMs: 600_000,
  });

  const rssStart = process.memoryUsage.rss();
  const beyondStart = rssStart - youngGenerationBytes();
  let rssPeak = rssStart;
  let beyondPeak = beyondStart;
  // process.memoryUsage.rss() is cheap; the heap-space statistics are not, so the young generation is read
  // every 50 ms and its last size is used in between.
  let young = youngGenerationBytes();
  const sample = () => {
    const rss = process.memoryUsage.rss();
    rssPeak = Math.max(rssPeak, rss);
    beyondPeak = Math.max(beyondPeak, rss - young);
  };
  const sampler = setInterval(() => {
    young = youngGenerationBytes();
    sample();
  }, 50);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let written = 0;
  let i = 0;
  while (written < targetBytes) {
    for (let k = 0; k < 2_000; k++) {
      const line = pool[i++ % pool.length]!;
      log.line(line, "stdout");
      written += line.length + 1;
    }
    sample();
    if (!opts.burst) {
      while (log.spool.stats.onDiskBytes > PACE_BYTES) await new Promise((r) => setTimeout(r, 5));
    }
    await yieldToLoop();
  }
  await log.close();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(sampler);
  sample();
  const resultPromise = nextMessage(child, "result");
  child.send({ type: "finish", total: log.spool.lastSeq, executionId: execution.id });
  const result = await resultPromise;
  const wireBytes = shipper.stats().bytes;
  await shipper.close();
  await client.close();
  rmSync(stateDir, { recursive: true, force: true });
  return {
    name: opts.burst ? "burst" : "paced",
    mbWritten: written / 1e6,
    // Burst runs drop the middle of the output at the spool cap: count only the share delivered.
    mbPerSecond: (written / 1e6 / seconds) * (1 - result.droppedByCap / log.spool.lastSeq),
    records: log.spool.lastSeq,
    lost: result.lost,
    duplicated: result.duplicated,
    droppedByCap: result.droppedByCap,
    rssGrowthMb: (rssPeak - rssStart) / 1e6,
    rssGrowthBeyondYoungMb: (beyondPeak - beyondStart) / 1e6,
    cpuSeconds,
    mbPerCpuSecond: written / 1e6 / cpuSeconds,
    wireRatio: wireBytes / written,
  };
}

/** Prints rows as a small table. */
export function printLogsTable(rows: LogsBenchRow[]): void {
  console.log("logs: JobLog → spool → shipper → embedded control plane (loopback, in a child process)");
  console.log(
    "  mode    written   MB/s  MB/CPU-s   records    lost  dup  dropped(cap)  RSS growth (beyond young gen)  wire/output",
  );
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(6)} ${`${r.mbWritten.toFixed(0)} MB`.padStart(8)} ${r.mbPerSecond.toFixed(1).padStart(6)} ` +
        `${r.mbPerCpuSecond.toFixed(1).padStart(9)} ` +
        `${String(r.records).padStart(9)} ${String(r.lost).padStart(7)} ${String(r.duplicated).padStart(4)} ` +
        `${String(r.droppedByCap).padStart(13)} ${`${r.rssGrowthMb.toFixed(0)} MB`.padStart(11)} ` +
        `${`(${r.rssGrowthBeyondYoungMb.toFixed(0)} MB)`.padStart(18)} ` +
        `${r.wireRatio.toFixed(2).padStart(12)}`,
    );
  }
}

if (import.meta.main && process.argv.includes("--serve")) {
  await serveControlPlane();
} else if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const mb = arg("--mb");
  const records = arg("--batch-records");
  const bytes = arg("--batch-bytes");
  const row = await benchLogs({
    burst: process.argv.includes("--burst"),
    ...(mb ? { mb } : {}),
    ...(records ? { maxBatchRecords: records } : {}),
    ...(bytes ? { maxBatchBytes: bytes } : {}),
  });
  printLogsTable([row]);
}
