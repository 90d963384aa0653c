/**
 * The agent: the loop that must never stall, never lose a job and never run one twice. It owns the
 * lifecycle (lifecycle.ts), the heartbeats, one job loop per group, the job runner, the cancel watch, the
 * journal and the admin server, and tears them down in order when it drains.
 *
 * Startup: journal (lock + leftovers) → admin server → settings (retried for settingsRetryMs) → then at once:
 * report leftovers, heartbeats, the loops → `running`; telemetry (loaded lazily) and the process registration
 * (when offered) complete alongside: jobs wait for telemetry, beats carry `process_id` once registered.
 * Drain (drain.ts sequence, docs/agent.md): stop asking for work, let running jobs finish up to drainTimeoutMs,
 * then abort them (reason `drain`), deliver their outcomes, mark the process stopped, close → `stopped`.
 */
import { ControlPlaneError } from "../control-plane/errors.ts";
import type { Execution, Job, RunnerSettings } from "../control-plane/schemas.ts";
import type { RunnerState } from "../jobs/handler.ts";
import { createHandlerRegistry } from "../jobs/registry.ts";
import { openJobLog, parseLogLevel } from "../logs/job-log.ts";
import { runnerResource } from "../logs/otlp-records.ts";
import { createRedactor } from "../logs/redact.ts";
import { createShipper, resumePending, type Shipper } from "../logs/shipper.ts";
import { spoolRoot } from "../logs/spool.ts";
import { createSpoolDirPool } from "../logs/spool-pool.ts";
import { type AdminServer, startAdminServer } from "../telemetry/admin-server.ts";
import type { Telemetry } from "../telemetry/otel.ts";
import type { Agent, AgentDeps, AgentExit, AgentOptions } from "./agent-types.ts";
import { createCancelWatch } from "./cancel-watch.ts";
import { type DrainPlan, runDrain, settlesWithin } from "./drain.ts";
import type { HeartbeatStats } from "./heartbeat.ts";
import { type HeartbeatHandle, startHeartbeats } from "./heartbeat-thread.ts";
import { createIdleGc } from "./idle-gc.ts";
import { createJobLoop, type JobLoop } from "./job-loop.ts";
import { createJobRunner } from "./job-runner.ts";
import { createJobSource } from "./job-source.ts";
import { createJournal, type JournalEntry } from "./journal.ts";
import { createLifecycle } from "./lifecycle.ts";
import { createAgentMetrics } from "./metrics.ts";
import { healthProbe, readyProbe } from "./probes.ts";
import { recoverJournal } from "./recover.ts";
import { AgentStartupError, fetchSettings, groupSlots, heartbeatIntervalMs } from "./settings.ts";
import { createWorkerPool } from "./worker-pool.ts";

export type { Agent, AgentDeps, AgentExit, AgentOptions, AgentStats } from "./agent-types.ts";

const EMPTY_HEARTBEAT: HeartbeatStats = { sent: 0, failed: 0, worstGapMs: 0, lastSentAtMs: undefined };

/** Creates an agent (nothing runs until `start()`). */
export function createAgent(options: AgentOptions, deps: AgentDeps): Agent {
  const { client, log } = deps;
  const registry = deps.registry ?? createHandlerRegistry();
  const lifecycle = createLifecycle(log);
  const metrics = createAgentMetrics();
  const journal = createJournal({
    dir: options.stateDir,
    ...(options.journalFileName !== undefined ? { fileName: options.journalFileName } : {}),
    ...(options.journalSync !== undefined ? { sync: options.journalSync } : {}),
    onLostWrites: (path, detail) =>
      log.warn(
        { path, detail },
        "the journal held no valid state (writes cut by a machine crash): executions held then are reported by the control plane's timeouts, not at this start",
      ),
  });
  const takeWork = new AbortController(); // aborts the loops (and startup)
  const urgent = new AbortController(); // a second signal: stop waiting
  const stopController = new AbortController(); // the end: abandon deliveries still retrying
  const cancelWatch = createCancelWatch({
    client,
    log,
    ...(options.cancelPollMs !== undefined ? { intervalMs: options.cancelPollMs } : {}),
  });
  const idleGc = createIdleGc({
    delayMs: options.idleGcDelayMs ?? 0,
    onCompaction: ({ durationMs, rssBefore, rssAfter }) =>
      log.debug(
        {
          durationMs: Math.round(durationMs * 10) / 10,
          rssBeforeMiB: mib(rssBefore),
          rssAfterMiB: mib(rssAfter),
        },
        "idle: memory compacted",
      ),
  });
  const healthWindowMs =
    options.healthWindowMs ?? 2 * (options.longPollWaitMs + 5_000) + options.pollMaxIntervalMs + 10_000;

  let settings: RunnerSettings | undefined;
  let processId: string | undefined;
  let heartbeats: HeartbeatHandle | undefined;
  let admin: AdminServer | undefined;
  let telemetry: Telemetry | undefined;
  let telemetryReady: Promise<Telemetry | undefined> = Promise.resolve(undefined);
  let registration: Promise<void> = Promise.resolve();
  let shipper: Shipper | undefined;
  const redactor = deps.redactor ?? createRedactor();
  // Done job log spools are reused rather than made and deleted for every job (spool-pool.ts).
  const spoolOptions = {
    pool: createSpoolDirPool(spoolRoot(options.stateDir)),
    ...(options.logSpoolMaxBytes !== undefined ? { maxBytes: options.logSpoolMaxBytes } : {}),
  };
  let loops: JobLoop[] = [];
  const loopRuns: Array<Promise<void>> = [];
  let recovery: Promise<void> = Promise.resolve();
  let startPromise: Promise<void> | undefined;
  let startupRun: Promise<void> | undefined;
  let startupFailed = false;
  let drainPromise: Promise<AgentExit> | undefined;
  let resolveDone: (exit: AgentExit) => void = () => undefined;
  const done = new Promise<AgentExit>((resolve) => {
    resolveDone = resolve;
  });

  const runnerState: RunnerState = {
    processType: options.processType,
    startedAtMs: performance.timeOrigin,
    jobLoops() {
      const out: Record<string, number> = {};
      for (const loop of loops)
        out[loop.group] = Math.max(1, Math.round(loop.health().sinceLastCheckMs * 1e6));
      return out;
    },
    requestExit(reason, opts) {
      log.info({ reason, force: opts?.force ?? false }, "a job asked the runner to exit");
      setImmediate(() => agent.drain(reason, { force: opts?.force ?? false }));
    },
  };

  const jobRunner = createJobRunner({
    client,
    log,
    journal,
    cancelWatch,
    registry,
    metrics,
    runnerState,
    killGraceMs: options.killGraceMs,
    stopSignal: stopController.signal,
    telemetry: () => telemetryReady,
    idleGc,
    openJobLog: (job, execution, stepName, echo) =>
      shipper === undefined
        ? undefined
        : openJobLog({
            stateDir: options.stateDir,
            job,
            execution,
            stepName,
            redactor,
            logger: log,
            echo,
            shipper,
            // Normally the last lines arrive before the terminal status; when the control plane is away the
            // status is not held back for long: the spool keeps the lines and shipping goes on.
            flushTimeoutMs: 2_000,
            enableLogging: settings?.enable_logging ?? true,
            level: parseLogLevel(settings?.logging_level),
            spoolOptions,
          }),
    ...(options.workspaceDir !== undefined ? { workspaceRoot: options.workspaceDir } : {}),
    ...(options.keepWorkspaces !== undefined ? { keepWorkspaces: options.keepWorkspaces } : {}),
  });

  async function claim(job: Job): Promise<Execution | undefined> {
    try {
      // never aborted by a drain: a claim that reached the control plane must be followed by a run
      return await client.createExecution(job.id);
    } catch (err) {
      if (err instanceof ControlPlaneError && (err.code === "CLAIM_LOST" || err.code === "NOT_FOUND"))
        return undefined;
      throw err;
    }
  }

  function firstPollMs(): number | undefined {
    const firsts = loops.flatMap((l) => {
      const at = l.health().firstPollAtMs;
      return at === undefined ? [] : [at];
    });
    return firsts.length === 0 ? undefined : Math.min(...firsts);
  }

  const health = () =>
    healthProbe(
      lifecycle.state,
      loops.map((l) => l.health()),
      healthWindowMs,
    );
  const ready = () => readyProbe(lifecycle.state, settings !== undefined);

  function metricsText(): string {
    const hb = heartbeats?.stats() ?? EMPTY_HEARTBEAT;
    return metrics.render({
      up: lifecycle.state === "starting" || lifecycle.state === "running",
      state: lifecycle.state,
      heartbeatWorstGapMs: hb.worstGapMs,
      heartbeatsSent: hb.sent,
      heartbeatsFailed: hb.failed,
      runningByGroup: Object.fromEntries(
        options.groups.map((g) => [g, jobRunner.runningByGroup()[g] ?? 0] as const),
      ),
      firstPollMs: firstPollMs(),
    });
  }

  function ensureStarting(): void {
    if (lifecycle.state !== "starting") throw takeWork.signal.reason ?? new Error("the agent is stopping");
  }

  /** Starts telemetry (the factory may load it lazily); undefined when absent or when it fails. */
  async function startTelemetry(fetched: RunnerSettings): Promise<Telemetry | undefined> {
    if (deps.telemetry === undefined) return undefined;
    try {
      telemetry = await deps.telemetry(fetched, {
        heartbeatWorstGapMs: () => heartbeats?.stats().worstGapMs ?? 0,
      });
      log.info({ exports: telemetry.destinations }, "telemetry started");
      return telemetry;
    } catch (err) {
      log.warn({ err }, "could not start telemetry; the runner goes on without it");
      return undefined;
    }
  }

  /** Registers this process when the control plane offers it; the id, or undefined. Never rejects. */
  async function registerProcess(): Promise<string | undefined> {
    try {
      const registered = await client.createProcess(options.processType, options.version, {
        signal: takeWork.signal,
      });
      processId = registered?.id;
      if (processId !== undefined) log.info({ processId }, "runner process registered");
      else log.debug("the control plane does not register processes; going on without");
    } catch (err) {
      if (!takeWork.signal.aborted)
        log.warn({ err }, "could not register the runner process; heartbeats go without process_id");
    }
    return processId;
  }

  async function startup(): Promise<void> {
    let leftovers: JournalEntry[];
    try {
      leftovers = await journal.open();
    } catch (err) {
      throw new AgentStartupError(
        "STATE_DIR",
        `cannot use the state directory ${options.stateDir}: ${(err as Error).message}`,
        2,
        err,
      );
    }
    if (options.admin !== undefined) {
      try {
        admin = await startAdminServer({
          ...options.admin,
          log,
          health,
          ready,
          metrics: async () => metricsText() + ((await telemetry?.prometheusText()) ?? ""),
        });
      } catch (err) {
        throw new AgentStartupError(
          "ADMIN_SERVER",
          `the admin server cannot listen on ${options.admin.host}:${options.admin.port} (${(err as Error).message}); set adminPort (RUNNER_ADMIN_PORT) to a free port or 0`,
          2,
          err,
        );
      }
    }
    ensureStarting();
    settings = await fetchSettings(client, {
      retryForMs: options.settingsRetryMs,
      log,
      signal: takeWork.signal,
    });
    ensureStarting();
    log.info({ heartbeatIntervalMs: heartbeatIntervalMs(settings) }, "runner settings fetched");
    telemetryReady = startTelemetry(settings);
    shipper = createShipper({
      client,
      resource: runnerResource({
        metadata: settings.metadata,
        runnerId: client.runnerId,
        version: options.version,
        schemaUrl: client.baseUrl,
      }),
      logger: log,
    });
    try {
      const resumed = resumePending({ stateDir: options.stateDir, shipper, logger: log });
      if (resumed.resumed.length > 0 || resumed.removed > 0)
        log.info(
          { resumed: resumed.resumed.length, removed: resumed.removed },
          "job logs left by a previous process are being shipped",
        );
    } catch (err) {
      log.warn({ err }, "could not resume job logs left by a previous process");
    }
    if (leftovers.length > 0) {
      recovery = recoverJournal(leftovers, { client, journal, log, signal: stopController.signal }).catch(
        (err) => log.error({ err }, "could not report executions left by a previous process"),
      );
    }
    const intervalMs =
      settings.heart_beat_timeout !== undefined && settings.heart_beat_timeout > 0
        ? heartbeatIntervalMs(settings)
        : (options.heartbeatIntervalMs ?? heartbeatIntervalMs(settings));
    const body = { version: options.version, process: options.processType };
    // beats start without process_id and carry it once the registration (below, concurrent) answers
    heartbeats = startHeartbeats(client, options.heartbeatThread, {
      intervalMs,
      requestTimeoutMs: options.heartbeatTimeoutMs,
      body,
      log,
    });
    registration = registerProcess().then((id) => {
      if (id !== undefined) heartbeats?.setBody({ ...body, process_id: id });
    });
    const longPoll = options.longPoll && settings.long_poll_jobs !== false;
    const current = settings;
    loops = options.groups.map((group) =>
      createJobLoop({
        group,
        pool: createWorkerPool(groupSlots(group, options.groupConcurrency, current, options.concurrency)),
        source: createJobSource({ client, group, longPoll, longPollWaitMs: options.longPollWaitMs, log }),
        order: options.jobOrder,
        claim,
        start: (claimed) => jobRunner.start(claimed, group),
        isHeld: (jobId) => jobRunner.isHeld(jobId),
        pollIntervalMs: options.pollIntervalMs,
        pollMaxIntervalMs: options.pollMaxIntervalMs,
        log,
      }),
    );
    for (const loop of loops) loopRuns.push(loop.run(takeWork.signal));
    lifecycle.transition("running", "settings fetched, heartbeats and job loops started");
    if (jobRunner.running().length === 0) idleGc.idle();
    log.info(
      {
        processType: options.processType,
        groups: options.groups,
        slots: Object.fromEntries(
          options.groups.map((g) => [
            g,
            groupSlots(g, options.groupConcurrency, current, options.concurrency),
          ]),
        ),
        longPoll,
        jobOrder: options.jobOrder,
      },
      "runner started",
    );
  }

  const plan: DrainPlan = {
    log,
    lifecycle,
    takeWork,
    urgent,
    stopController,
    jobRunner,
    drainTimeoutMs: options.drainTimeoutMs,
    killGraceMs: options.killGraceMs,
    flushTimeoutMs: options.flushTimeoutMs ?? 30_000,
    waitForStartup: () =>
      startupRun?.then(
        () => undefined,
        () => undefined,
      ) ?? Promise.resolve(),
    waitForLoops: () => Promise.allSettled(loopRuns).then(() => undefined),
    waitForRecovery: () => recovery,
    async closeAll(reason) {
      cancelWatch.stop();
      idleGc.stop();
      // a registration still in flight was aborted with takeWork; its answer decides the PATCH below
      await settlesWithin(registration, 2_000);
      await heartbeats?.stop();
      if (processId !== undefined) {
        await client
          .updateProcess(processId, "stopped", reason, { timeoutMs: 2_000 })
          .catch((err: unknown) => log.warn({ err }, "could not mark the runner process stopped"));
      }
      await journal.close().catch((err: unknown) => log.warn({ err }, "could not close the journal"));
      await shipper?.close();
      spoolOptions.pool.clear();
      await (await telemetryReady)?.shutdown();
      await admin?.close();
    },
  };

  const agent: Agent = {
    get state() {
      return lifecycle.state;
    },
    start() {
      startupRun ??= startup();
      startPromise ??= startupRun.catch(async (err: unknown) => {
        if (drainPromise !== undefined) {
          // a drain was requested during startup: it finishes the shutdown and resolves `done`
          await drainPromise;
          return;
        }
        startupFailed = true;
        takeWork.abort(err);
        stopController.abort(err);
        await plan.closeAll("startup failed");
        lifecycle.transition("stopped", "startup failed");
        const exit: AgentExit = {
          exitCode: err instanceof AgentStartupError ? err.exitCode : 1,
          reason: (err as Error).message,
        };
        resolveDone(exit);
        throw err;
      });
      return startPromise;
    },
    drain(reason, opts) {
      if (opts?.force) urgent.abort(new Error(reason));
      if (drainPromise !== undefined || lifecycle.state === "stopped" || startupFailed) return;
      drainPromise = runDrain(plan, reason).then((exit) => {
        resolveDone(exit);
        return exit;
      });
    },
    shutdownNow(reason) {
      if (lifecycle.state === "stopped") return;
      log.warn({ reason }, "stopping at once: running jobs are aborted");
      urgent.abort(new Error(reason));
      jobRunner.abortAll({ kind: "shutdown", message: `the runner was told to stop at once (${reason})` });
      agent.drain(reason);
    },
    async stop(reason = "stop requested") {
      agent.drain(reason);
      return done;
    },
    done,
    get adminUrl() {
      return admin?.url;
    },
    stats() {
      return {
        state: lifecycle.state,
        heartbeat: heartbeats?.stats() ?? EMPTY_HEARTBEAT,
        pickups: metrics.pickups(),
        firstPollMs: firstPollMs(),
        jobs: metrics.jobs(),
        loops: loops.map((l) => l.health()),
        processId,
      };
    },
    metricsText,
  };
  return agent;
}

/** Bytes in MiB, to 0.1. */
function mib(bytes: number): number {
  return Math.round((bytes / 1024 ** 2) * 10) / 10;
}
