/**
 * One `runner run-local` run, end to end: load the job files, start the embedded control plane on a loopback
 * port (or use an existing one), register a runner, start the real agent in process against it over HTTP
 * (the production code path), run the jobs through the executor, then drain the agent, stop the control
 * plane and report. The live view, the run record and the `--events` file are subscribers of one event bus.
 */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Writable } from "node:stream";
import { createEventBus } from "../events/bus.ts";
import type { RunSettingsView } from "../events/events.ts";
import { createEventsFileWriter } from "../events/ndjson.ts";
import { createHandlerRegistry } from "../jobs/registry.ts";
import { createRedactor } from "../logs/redact.ts";
import { startControlPlane } from "../mock-control-plane/server.ts";
import {
  createRecordWriter,
  newRunId,
  RUN_ID_PATTERN,
  recordPath,
  runsDir,
} from "../records/record-store.ts";
import { createLogger, type Logger } from "../telemetry/logger.ts";
import { runWithAgent } from "./agent-run.ts";
import { type DevControlPlane, embeddedPort, remotePort } from "./control-plane-port.ts";
import type { RunResult } from "./executor.ts";
import { JobFileError, type JobSpec, loadJobFiles } from "./job-file.ts";
import { createLiveView } from "./live-view.ts";
import { createLogTap } from "./log-tap.ts";
import { writeReport } from "./report.ts";

/** Defaults of run-local. */
export const RUN_LOCAL_DEFAULTS = {
  /** The whole run's deadline: 30 min. */
  timeoutMs: 30 * 60_000,
  /** Slots per job group of the in-process agent. */
  concurrency: 4,
  logLevel: "info",
} as const;

/** The settings of one run (from flags, env and the configuration). */
export interface RunLocalSettings {
  /** As given on the command line. */
  jobFiles: string[];
  cwd: string;
  stateDir: string;
  failFast: boolean;
  timeoutMs: number;
  concurrency: number;
  logLevel: string;
  /** Default `<state-dir>/runs/<run-id>.log`. */
  logFile?: string;
  /** Default a new id (`YYYYMMDD-HHMMSS-xxxx`). */
  runId?: string;
  /** Write the run record; default true. */
  record: boolean;
  eventsFile?: string;
  output: "text" | "json";
  /** An existing control plane instead of the embedded one. */
  apiUrl?: string;
  adminToken?: string;
}

/** Where a run writes and what can stop it. */
export interface SessionIo {
  stdout: Writable;
  stderr: Writable;
  /** Aborting it interrupts the run (first SIGINT/SIGTERM): jobs are cancelled, the record written. */
  signal?: AbortSignal;
  /** Aborting it also stops the running jobs' processes at once (second signal). */
  urgent?: AbortSignal;
}

/** Runs the jobs; resolves to the exit code: 0 success, 1 failure, 2 bad input, 130 interrupted. */
export async function runLocalSession(settings: RunLocalSettings, io: SessionIo): Promise<number> {
  const fail = (message: string, code: number) => {
    io.stderr.write(`runner run-local: ${message}\n`);
    return code;
  };
  let jobs: JobSpec[];
  try {
    jobs = await loadJobFiles(settings.jobFiles, {
      cwd: settings.cwd,
      knownTypes: createHandlerRegistry().types(),
    });
  } catch (err) {
    if (err instanceof JobFileError) return fail(`invalid job file(s):\n  ${err.issues.join("\n  ")}`, 2);
    throw err;
  }
  const runId = settings.runId ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId))
    return fail(`--run-id "${runId}": use letters, digits, '.', '_' and '-'`, 2);
  if (settings.record && existsSync(recordPath(settings.stateDir, runId)))
    return fail(`run id "${runId}" is already recorded in ${runsDir(settings.stateDir)}; choose another`, 2);

  await mkdir(runsDir(settings.stateDir), { recursive: true, mode: 0o700 });
  const agentDir = path.join(settings.stateDir, "run-local", runId);
  const workspaceDir = path.join(settings.stateDir, "run-local", "workspaces");
  await mkdir(agentDir, { recursive: true, mode: 0o700 });
  await mkdir(workspaceDir, { recursive: true, mode: 0o700 });
  const logFile = path.resolve(
    settings.cwd,
    settings.logFile ?? path.join(runsDir(settings.stateDir), `${runId}.log`),
  );
  await mkdir(path.dirname(logFile), { recursive: true });

  const redactor = createRedactor();
  redactor.addFromEnv(process.env);
  if (settings.adminToken) redactor.add(settings.adminToken);
  let logRef: Logger | undefined;
  const bus = createEventBus({ log: { error: (fields, message) => logRef?.error(fields, message) } });
  const jobNames = new Map<string, string>();
  bus.on("job:enqueued", (e) => jobNames.set(e.data.jobId, e.data.job));
  const tap = createLogTap({ file: logFile, bus, jobNames });
  const log = await createLogger({
    level: settings.logLevel,
    format: "json",
    destination: tap.stream,
    redact: (text) => redactor.redact(text).text,
    base: { runId, process: "run-local" },
  });
  logRef = log;

  const view: RunSettingsView = {
    stateDir: settings.stateDir,
    failFast: settings.failFast,
    timeoutMs: settings.timeoutMs,
    concurrency: settings.concurrency,
    logLevel: settings.logLevel,
    logFile,
    record: settings.record,
    ...(settings.eventsFile !== undefined
      ? { eventsFile: path.resolve(settings.cwd, settings.eventsFile) }
      : {}),
    output: settings.output,
    controlPlane: settings.apiUrl ?? "embedded",
  };
  const viewOut = settings.output === "json" ? io.stderr : io.stdout;
  const live = createLiveView(bus, { out: viewOut });
  const recorder = createRecordWriter({
    stateDir: settings.stateDir,
    bus,
    redactor,
    write: settings.record,
    onError: (err) => log.error({ err }, "could not write the run record; the run goes on"),
  });
  if (view.eventsFile !== undefined) await mkdir(path.dirname(view.eventsFile), { recursive: true });
  const eventsFile =
    view.eventsFile === undefined ? undefined : createEventsFileWriter(view.eventsFile, bus, redactor);

  let cp: DevControlPlane | undefined;
  let result: RunResult | undefined;
  let startError: string | undefined;
  let exitCode = 1;
  const startedMs = Date.now();
  try {
    cp =
      settings.apiUrl === undefined
        ? embeddedPort(await startControlPlane({ logger: log.child({ component: "control-plane" }) }))
        : remotePort({
            url: settings.apiUrl,
            adminToken: settings.adminToken ?? "",
            onPollError: (err) =>
              log.warn({ err }, "could not read a job from the control plane; trying again"),
          });
    const runner = await cp.createRunner();
    redactor.add(runner.token);
    bus.emit("run:started", {
      runId,
      jobFiles: [...new Set(jobs.map((j) => j.file))],
      jobs: jobs.map((j) => ({
        name: j.name,
        type: j.type,
        ...(j.operation !== undefined ? { operation: j.operation } : {}),
        dependsOn: j.dependsOn,
      })),
      settings: view,
    });
    result = await runWithAgent({
      settings,
      io,
      cp,
      runner,
      jobs,
      runId,
      agentDir,
      workspaceDir,
      log,
      redactor,
      bus,
    });
    exitCode = result.exitCode;
  } catch (err) {
    startError = err instanceof Error ? err.message : String(err);
    if ((err as { exitCode?: unknown }).exitCode === 2) exitCode = 2;
    log.error({ err }, "run-local could not run the jobs");
  } finally {
    await cp?.close().catch(() => undefined);
  }
  const durationMs = result?.durationMs ?? Date.now() - startedMs;
  if (recorder.record !== undefined) {
    bus.emit("run:finished", {
      runId,
      status: result?.status ?? "failure",
      exitCode,
      durationMs,
      ...((result?.reason ?? startError) !== undefined
        ? { reason: (result?.reason ?? startError) as string }
        : {}),
    });
  }
  live.stop();
  await recorder.close();
  await eventsFile?.close();
  log.flush?.();
  await tap.close();
  await rm(agentDir, { recursive: true, force: true }).catch(() => undefined);

  writeReport(settings.output === "json" ? "json" : "text", io.stdout, {
    runId,
    status: result?.status ?? "failure",
    exitCode,
    durationMs,
    ...((result?.reason ?? startError) !== undefined
      ? { reason: (result?.reason ?? startError) as string }
      : {}),
    recordFile: recorder.path,
    logFile,
    record: recorder.record,
  });
  if (startError !== undefined) io.stderr.write(`runner run-local: ${startError}\n`);
  return exitCode;
}
