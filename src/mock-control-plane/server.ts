/**
 * The embedded control plane: a small real server speaking the Nuon Runner API (PROTOCOL.md §2), plus an admin
 * API to register runners and enqueue jobs. Used by the tests, the benchmark, `runner run-local` and
 * `runner control-plane`.
 */
import { EventEmitter, setMaxListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, pino } from "pino";
import type { HeartBeat, Job, RunnerSettings } from "../control-plane/schemas.ts";
import { CONTROL_PLANE_DEFAULTS } from "./defaults.ts";
import { createRequestHandler } from "./handler.ts";
import { Router } from "./http.ts";
import { newToken } from "./ids.ts";
import { JobEngine } from "./jobs.ts";
import type { EnqueueJobInput, JobChange, JobDetail } from "./model.ts";
import { loadSnapshot, StatePersister } from "./persistence.ts";
import { JobReports } from "./reports.ts";
import { adminRoutes, listDetails } from "./routes/admin.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { logRoutes } from "./routes/logs.ts";
import { runnerRoutes } from "./routes/runners.ts";
import type { Services } from "./routes/services.ts";
import { terraformRoutes } from "./routes/terraform.ts";
import { RunnerService } from "./runners.ts";
import { ControlPlaneStore } from "./store.ts";
import { TailWaiters } from "./tail.ts";
import { TerraformService } from "./terraform.ts";
import { applyTimeouts } from "./timeouts.ts";
import { jobToWire } from "./views.ts";
import { waitForJob } from "./wait-for-job.ts";

export type { DecodedLogRecord } from "../otlp/logs-proto.ts";
export type { EnqueueJobInput, ExecutionDetail, JobChange, JobDetail, StepUpdate } from "./model.ts";

/** Options of `startControlPlane`. */
export interface ControlPlaneOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Directory whose state survives a restart; in memory when absent. */
  stateDir?: string;
  /** The admin API's bearer token; random when absent (kept in the state dir when there is one). */
  adminToken?: string;
  /** Serve the long-poll tail route; default true (false: 404, as without Nuon's feature flag). */
  tail?: boolean;
  /** Period of the timeout monitor in ms; default 100. */
  monitorIntervalMs?: number;
  /** A runner whose newest heartbeat is older than this (ms) is `error`; default 15 000. */
  runnerHealthTimeoutMs?: number;
  /** Where the server logs; silent when absent. */
  logger?: Logger;
}

/** The admin operations, in process. */
export interface ControlPlaneAdmin {
  /** Registers a runner (default settings overridden by `settings`). */
  createRunner(input?: { settings?: Partial<RunnerSettings> }): { id: string; token: string };
  /** Merges a settings patch (metadata keys merge); returns the settings as the runner will read them. */
  updateSettings(runnerId: string, patch: Partial<RunnerSettings>): RunnerSettings;
  /** Enqueues an available job (wire shape); throws an ApiError (status 400) naming the field on bad input. */
  enqueueJob(runnerId: string, input: EnqueueJobInput): Job;
  /** A job with all its executions, results, outputs, steps, logs and plan. */
  getJob(jobId: string): JobDetail | undefined;
  /** Jobs of one runner (or all), newest first. */
  listJobs(runnerId?: string): JobDetail[];
  /** Cancels a job and its running executions. */
  cancelJob(jobId: string): JobDetail;
  /** Health from heartbeats; heartbeats oldest first. */
  runnerHealth(runnerId: string): {
    status: "active" | "error" | "pending";
    lastHeartbeatAt?: string;
    heartbeats: HeartBeat[];
  };
}

/** A running embedded control plane. */
export interface EmbeddedControlPlane {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  adminToken: string;
  admin: ControlPlaneAdmin;
  /**
   * Emits, in the microtask after every change to a job, its executions or its logs (before the reply):
   * `job:changed` (JobChange: id, status, execution count; cheap) then `job:updated` (the JobDetail, built
   * only while someone listens to it).
   */
  events: EventEmitter;
  /** Resolves with the job once `predicate` holds; rejects after `timeoutMs` (default 10 000) showing its status. */
  waitForJob(jobId: string, predicate: (job: JobDetail) => boolean, timeoutMs?: number): Promise<JobDetail>;
  /** Requests served, by operationId; `firstRequestAtMs`: epoch ms (fractional) of each operation's first request. */
  stats(): { requests: Record<string, number>; firstRequestAtMs: Record<string, number> };
  /** Every route served: method, `:param` pattern, operationId and the credential it needs. */
  routes(): Array<{
    method: string;
    pattern: string;
    operationId: string;
    auth: "runner" | "admin" | "none";
  }>;
  /** Ends held long-polls, closes the server and its connections, flushes state. */
  close(): Promise<void>;
}

/** Starts a control plane and resolves once it listens. */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<EmbeddedControlPlane> {
  const logger = opts.logger ?? pino({ level: "silent" });
  const snapshot = opts.stateDir === undefined ? undefined : await loadSnapshot(opts.stateDir);
  const store = new ControlPlaneStore(snapshot, {
    ...(opts.stateDir === undefined ? {} : { stateDir: opts.stateDir }),
    onLogError: (err, message) => logger.error({ err }, message),
  });
  const adminToken = opts.adminToken ?? store.adminToken ?? newToken();
  if (opts.adminToken === undefined) store.adminToken = adminToken;

  const persister =
    opts.stateDir === undefined
      ? undefined
      : new StatePersister({
          dir: opts.stateDir,
          debounceMs: CONTROL_PLANE_DEFAULTS.persistDebounceMs,
          snapshot: () => store.toSnapshot(),
          logger,
        });
  const changed = () => persister?.schedule();

  const events = new EventEmitter();
  events.setMaxListeners(0);
  const pendingEmits = new Set<string>();
  const tail = new TailWaiters();
  const counts: Record<string, number> = {};
  const firstRequestAtMs: Record<string, number> = {};
  let url = "";

  const runners = new RunnerService(store, {
    nowMs: Date.now,
    changed,
    baseUrl: () => url,
    tail: opts.tail ?? CONTROL_PLANE_DEFAULTS.tail,
    runnerHealthTimeoutMs: opts.runnerHealthTimeoutMs ?? CONTROL_PLANE_DEFAULTS.runnerHealthTimeoutMs,
  });
  const jobChanged = (jobId: string) => {
    changed();
    if (pendingEmits.size === 0) queueMicrotask(flushEmits);
    pendingEmits.add(jobId);
  };
  const jobs = new JobEngine(store, { nowMs: Date.now, jobChanged, jobAvailable: (job) => tail.notify(job) });
  const flushEmits = () => {
    const ids = [...pendingEmits];
    pendingEmits.clear();
    const changes = events.listenerCount("job:changed") > 0;
    const details = events.listenerCount("job:updated") > 0;
    for (const id of ids) {
      if (changes) emitSafely("job:changed", id, () => changeOf(id));
      if (details) emitSafely("job:updated", id, () => jobs.detail(id));
    }
  };
  const changeOf = (id: string): JobChange => {
    const job = store.jobs.get(id)?.job;
    return { id, status: job?.status, executionCount: job?.execution_count ?? 0 };
  };
  /** Emits `event` with what `payload` builds; a throw (building or in a listener) is logged, not raised. */
  const emitSafely = (event: string, jobId: string, payload: () => unknown) => {
    try {
      events.emit(event, payload());
    } catch (err) {
      logger.error({ err, jobId, event }, "a job event listener threw; the control plane carries on");
    }
  };
  const services: Services = {
    store,
    runners,
    jobs,
    reports: new JobReports(store, jobs, { nowMs: Date.now, jobChanged }),
    terraform: new TerraformService(store, { nowMs: Date.now, changed }),
    tail,
    tailEnabled: opts.tail ?? CONTROL_PLANE_DEFAULTS.tail,
    maxTailWaitMs: CONTROL_PLANE_DEFAULTS.maxTailWaitMs,
    stats: () => ({ requests: { ...counts } }),
  };

  const router = new Router();
  router.add(
    ...runnerRoutes(services),
    ...jobRoutes(services),
    ...logRoutes(services),
    ...terraformRoutes(services),
    ...adminRoutes(services),
  );
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per request in flight
  const server = createServer(
    { keepAliveTimeout: 65_000 },
    createRequestHandler({
      router,
      store,
      adminToken,
      logger,
      maxBodyBytes: CONTROL_PLANE_DEFAULTS.maxBodyBytes,
      closing: closing.signal,
      count: (operationId) => {
        counts[operationId] = (counts[operationId] ?? 0) + 1;
        firstRequestAtMs[operationId] ??= performance.timeOrigin + performance.now();
      },
    }),
  );
  await listen(server, opts.host ?? CONTROL_PLANE_DEFAULTS.host, opts.port ?? CONTROL_PLANE_DEFAULTS.port);
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;
  changed();

  const monitor = setInterval(() => {
    try {
      applyTimeouts(store, jobs, Date.now());
    } catch (err) {
      logger.error({ err }, "control-plane timeout monitor failed; it runs again next tick");
    }
  }, opts.monitorIntervalMs ?? CONTROL_PLANE_DEFAULTS.monitorIntervalMs);
  monitor.unref();
  logger.info({ url, stateDir: opts.stateDir, tail: services.tailEnabled }, "control plane listening");

  const detailOrUndefined = (jobId: string) => (store.jobs.has(jobId) ? jobs.detail(jobId) : undefined);
  let closed: Promise<void> | undefined;

  return {
    url,
    port: address.port,
    adminToken,
    events,
    stats: () => ({ ...services.stats(), firstRequestAtMs: { ...firstRequestAtMs } }),
    routes: () => router.list(),
    admin: {
      createRunner: (input) => runners.create(input),
      updateSettings: (runnerId, patch) => runners.updateSettings(runnerId, patch),
      enqueueJob: (runnerId, input) => jobToWire(jobs.enqueue(runnerId, input)),
      getJob: detailOrUndefined,
      listJobs: (runnerId) => listDetails(services, runnerId),
      cancelJob: (jobId) => jobs.detail(jobs.cancel(jobId, "job cancelled by the admin").job.id),
      runnerHealth: (runnerId) => runners.health(runnerId),
    },
    waitForJob: (jobId, predicate, timeoutMs = CONTROL_PLANE_DEFAULTS.waitForJobTimeoutMs) =>
      waitForJob(events, () => detailOrUndefined(jobId), jobId, predicate, timeoutMs),
    close: () => {
      closed ??= (async () => {
        clearInterval(monitor);
        closing.abort(new Error("control plane closing"));
        tail.closeAll();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Let the replies to ended long-polls go out, then drop every connection (keep-alive ones too).
          setImmediate(() => server.closeAllConnections());
        });
        await persister?.flush();
        logger.info({ url }, "control plane closed");
      })();
      return closed;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
