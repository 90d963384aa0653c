/** Runners: registration, settings, heartbeats and health, health checks, processes and their shutdowns. */
import * as z from "zod";
import {
  CreateProcessRequest,
  type HealthCheck,
  HealthCheckRequest,
  type HeartBeat,
  HeartBeatRequest,
  nsToMs,
  type Runner,
  type RunnerProcess,
  RunnerSettings,
  UpdateProcessRequest,
} from "../control-plane/schemas.ts";
import { invalidRequest, notFound } from "./api-error.ts";
import { DEFAULT_SETTINGS, MAX_HEARTBEATS } from "./defaults.ts";
import { ID_PREFIX, isoAt, newId } from "./ids.ts";
import type { RunnerRecord } from "./model.ts";
import type { ControlPlaneStore } from "./store.ts";
import { omitZero } from "./views.ts";

/** A runner's health as the control plane judges it from heartbeats. */
export interface RunnerHealth {
  /** `pending` before the first heartbeat; `error` when the newest is older than the health timeout. */
  status: "active" | "error" | "pending";
  lastHeartbeatAt?: string;
  /** Oldest first (the newest 200 are kept). */
  heartbeats: HeartBeat[];
}

/** What RunnerService needs from its surroundings. */
export interface RunnerServiceDeps {
  nowMs: () => number;
  /** Called after every change, for persistence. */
  changed: () => void;
  /** The server's base URL, advertised as `runner_api_url`. */
  baseUrl: () => string;
  /** Whether the long-poll route is served (advertised as `long_poll_jobs`). */
  tail: boolean;
  runnerHealthTimeoutMs: number;
}

/** Formats zod issues as `path: problem; path: problem` for a 400 description. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(body)"}: ${issue.message}`)
    .join("; ");
}

/** Validates `input` with `schema` (classic zod or zod/mini) or throws a 400 naming the field. */
export function parseBody<S extends z.core.$ZodType>(schema: S, input: unknown): z.output<S> {
  const result = z.safeParse(schema, input);
  if (!result.success) throw invalidRequest(describeIssues(result.error));
  return result.data;
}

/** Runner operations over the store. */
export class RunnerService {
  readonly #store: ControlPlaneStore;
  readonly #deps: RunnerServiceDeps;

  constructor(store: ControlPlaneStore, deps: RunnerServiceDeps) {
    this.#store = store;
    this.#deps = deps;
  }

  /** Registers a runner with default settings (overridden by `settings`); returns its id and token. */
  create(input: { settings?: Partial<RunnerSettings> } = {}): { id: string; token: string } {
    const patch = parseBody(RunnerSettings, input.settings ?? {});
    const now = isoAt(this.#deps.nowMs());
    const id = newId(ID_PREFIX.runner);
    const groupId = newId(ID_PREFIX.runnerGroup);
    const record: RunnerRecord = {
      id,
      token: this.#store.newRunnerToken(),
      groupId,
      createdAt: now,
      updatedAt: now,
      settings: {
        id: newId(ID_PREFIX.settings),
        created_at: now,
        updated_at: now,
        org_id: this.#store.orgId,
        runner_group_id: groupId,
        ...DEFAULT_SETTINGS,
        ...patch,
        metadata: {
          "runner.id": id,
          "runner.type": "org",
          "runner.platform": "local",
          "org.id": this.#store.orgId,
          ...patch.metadata,
        },
      },
      heartbeats: [],
      healthChecks: [],
      processes: [],
    };
    this.#store.addRunner(record);
    this.#deps.changed();
    return { id, token: record.token };
  }

  /** The runner record, or a 404. */
  get(runnerId: string): RunnerRecord {
    const runner = this.#store.runners.get(runnerId);
    if (runner === undefined) throw notFound("runner", runnerId);
    return runner;
  }

  /** Settings as GET settings serves them (`runner_api_url` and `long_poll_jobs` filled in when unset). */
  settings(runnerId: string): RunnerSettings {
    const { settings } = this.get(runnerId);
    return omitZero({
      ...settings,
      runner_api_url: settings.runner_api_url ?? this.#deps.baseUrl(),
      long_poll_jobs: settings.long_poll_jobs ?? this.#deps.tail,
    });
  }

  /** Merges `patch` into the settings (top-level fields replace, `metadata` keys merge); returns the result. */
  updateSettings(runnerId: string, patch: Partial<RunnerSettings>): RunnerSettings {
    const runner = this.get(runnerId);
    const parsed = parseBody(RunnerSettings, patch);
    runner.settings = {
      ...runner.settings,
      ...parsed,
      metadata: { ...runner.settings.metadata, ...parsed.metadata },
      updated_at: isoAt(this.#deps.nowMs()),
    };
    this.#deps.changed();
    return this.settings(runnerId);
  }

  /** Health judged from the newest heartbeat. */
  health(runnerId: string): RunnerHealth {
    const { heartbeats } = this.get(runnerId);
    const last = heartbeats.at(-1);
    if (last?.created_at === undefined) return { status: "pending", heartbeats: [...heartbeats] };
    const ageMs = this.#deps.nowMs() - Date.parse(last.created_at);
    return {
      status: ageMs > this.#deps.runnerHealthTimeoutMs ? "error" : "active",
      lastHeartbeatAt: last.created_at,
      heartbeats: [...heartbeats],
    };
  }

  /** The runner as GET runner serves it; `status` follows health. */
  toWire(runnerId: string): Runner {
    const runner = this.get(runnerId);
    const health = this.health(runnerId);
    return omitZero({
      id: runner.id,
      name: runner.id,
      display_name: `runner ${runner.id}`,
      org_id: this.#store.orgId,
      runner_group_id: runner.groupId,
      status: health.status,
      status_description: health.status === "error" ? "no recent heartbeat" : health.status,
      created_at: runner.createdAt,
      updated_at: runner.updatedAt,
    });
  }

  /** Records a heartbeat (201 body). `started_at` is derived from `alive_time` as Nuon does. */
  heartbeat(runnerId: string, body: unknown): HeartBeat {
    const runner = this.get(runnerId);
    const input = parseBody(HeartBeatRequest, body);
    const nowMs = this.#deps.nowMs();
    const beat: HeartBeat = omitZero({
      id: newId(ID_PREFIX.heartbeat),
      runner_id: runner.id,
      alive_time: input.alive_time,
      version: input.version,
      process: input.process,
      process_id: input.process_id,
      started_at: isoAt(nowMs - nsToMs(input.alive_time)),
      created_at: isoAt(nowMs),
    });
    pushBounded(runner.heartbeats, beat);
    this.#deps.changed();
    return beat;
  }

  /** Records a health check (201 body) with the runner's current status. */
  healthCheck(runnerId: string, body: unknown): HealthCheck {
    const runner = this.get(runnerId);
    const input = parseBody(HealthCheckRequest, body ?? {});
    const check: HealthCheck = omitZero({
      id: newId(ID_PREFIX.healthCheck),
      runner_id: runner.id,
      process: input.process,
      status: this.health(runnerId).status,
      status_code: 0,
      created_at: isoAt(this.#deps.nowMs()),
    });
    pushBounded(runner.healthChecks, check);
    this.#deps.changed();
    return check;
  }

  /** Registers a runner process; it gets its own log stream. */
  createProcess(runnerId: string, body: unknown, logStreamId: string): RunnerProcess {
    const runner = this.get(runnerId);
    const input = parseBody(CreateProcessRequest, body);
    const now = isoAt(this.#deps.nowMs());
    const process: RunnerProcess = {
      id: newId(ID_PREFIX.process),
      runner_id: runner.id,
      org_id: this.#store.orgId,
      type: input.type,
      version: input.version,
      started_at: now,
      created_at: now,
      log_stream_id: logStreamId,
      shutdowns: [],
    };
    runner.processes.push(process);
    this.#deps.changed();
    return omitZero(process);
  }

  /** The process record, or a 404. */
  process(runnerId: string, processId: string): RunnerProcess {
    const process = this.get(runnerId).processes.find((p) => p.id === processId);
    if (process === undefined) throw notFound("runner process", processId);
    return process;
  }

  /** PATCH process `{status, status_description}`. */
  updateProcess(runnerId: string, processId: string, body: unknown): RunnerProcess {
    const process = this.process(runnerId, processId);
    const input = parseBody(UpdateProcessRequest, body);
    process.status = input.status;
    process.status_description = input.status_description;
    process.updated_at = isoAt(this.#deps.nowMs());
    this.#deps.changed();
    return omitZero({ ...process });
  }

  /** Asks a process to shut down (admin): adds a `pending` shutdown the runner sees on GET process. */
  requestShutdown(runnerId: string, processId: string, type: string): Record<string, unknown> {
    const process = this.process(runnerId, processId);
    const shutdown = {
      id: newId(ID_PREFIX.shutdown),
      runner_process_id: processId,
      type,
      status: "pending",
      created_at: isoAt(this.#deps.nowMs()),
    };
    process.shutdowns = [...(process.shutdowns ?? []), shutdown];
    this.#deps.changed();
    return shutdown;
  }

  /** Marks a shutdown completed (idempotent: completing twice answers the same). */
  completeShutdown(runnerId: string, processId: string, shutdownId: string): Record<string, unknown> {
    const process = this.process(runnerId, processId);
    const shutdown = process.shutdowns?.find((s) => s.id === shutdownId);
    if (shutdown === undefined) throw notFound("runner process shutdown", shutdownId);
    shutdown.status = "completed";
    shutdown.updated_at = isoAt(this.#deps.nowMs());
    this.#deps.changed();
    return omitZero({ ...shutdown });
  }
}

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_HEARTBEATS) list.splice(0, list.length - MAX_HEARTBEATS);
}
