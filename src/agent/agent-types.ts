/** The agent's public shapes: its options (plain values in ms, mapped from the configuration by the CLI),
 * its dependencies, its exit and its numbers. */
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import type { RunnerSettings } from "../control-plane/schemas.ts";
import type { HandlerRegistry } from "../jobs/registry.ts";
import type { Redactor } from "../logs/redact.ts";
import type { Telemetry } from "../telemetry/otel.ts";
import type { HeartbeatStats } from "./heartbeat.ts";
import type { HeartbeatClientOptions } from "./heartbeat-thread.ts";
import type { JobLoopHealth } from "./job-loop.ts";
import type { JobOrder } from "./job-order.ts";
import type { JournalSync } from "./journal.ts";
import type { AgentState } from "./lifecycle.ts";
import type { PickupSample } from "./metrics.ts";

/** The agent's options: plain values in milliseconds, mapped from the configuration by the CLI. */
export interface AgentOptions {
  /** Process type for heartbeats and registration: "" (run), "install", "build", "org". */
  processType: string;
  /** One job loop per group. */
  groups: readonly string[];
  /** Version reported in heartbeats and process registration. */
  version: string;
  /** Directory of the journal (one per runner process). */
  stateDir: string;
  /** Journal base name in stateDir (slots `<name>.0`, `<name>.1`); default "journal". */
  journalFileName?: string;
  /** When a journal change counts as done (journal.ts); default "background". */
  journalSync?: JournalSync;
  /** Slots per group when neither groupConcurrency nor settings.job_group_parallelism says; default 1. */
  concurrency: number;
  /** Slots per group, overriding everything else. */
  groupConcurrency: Readonly<Record<string, number>>;
  /** Which offered job to claim first; default "oldest". */
  jobOrder: JobOrder;
  /** Use the long-poll tail endpoint when offered; default true. */
  longPoll: boolean;
  /** Milliseconds a long-poll may be held; default 25 000. */
  longPollWaitMs: number;
  /** First idle poll delay in ms; default 1000. */
  pollIntervalMs: number;
  /** Largest idle poll delay in ms; default 5000. */
  pollMaxIntervalMs: number;
  /** How long to keep retrying the settings at startup, in ms; default 300 000. */
  settingsRetryMs: number;
  /** How long running jobs may finish during a drain, in ms; default 600 000. */
  drainTimeoutMs: number;
  /** SIGTERM → SIGKILL grace for processes handlers start, in ms; default 10 000. */
  killGraceMs: number;
  /** Per-request deadline of a heartbeat, in ms; default 5000. */
  heartbeatTimeoutMs: number;
  /** Milliseconds without a job before one full garbage collection returns memory (idle-gc.ts); default 0: off. */
  idleGcDelayMs?: number;
  /** Milliseconds between cancel checks of a running job; default 500. */
  cancelPollMs?: number;
  /** A loop silent (not asking, not busy) for longer than this fails /healthz; default 2 × (longPollWaitMs + 5000) + pollMaxIntervalMs + 10 000. */
  healthWindowMs?: number;
  /** After the jobs ended in a drain, how long outcome delivery may still take, in ms; default 30 000. */
  flushTimeoutMs?: number;
  /** Serve /healthz, /readyz, /metrics here; no admin server when absent. */
  admin?: { host: string; port: number };
  /** Run heartbeats on a worker thread with its own client built from these; inline through `client` when absent. */
  heartbeatThread?: HeartbeatClientOptions;
  /** Per-execution cap of the on-disk job log spool, in bytes; default 100 MiB. */
  logSpoolMaxBytes?: number;
  /** Root of per-job workspaces (0700 each, removed after the job); jobs get none when absent. */
  workspaceDir?: string;
  /** Keep job workspaces after the job, for debugging; default false. */
  keepWorkspaces?: boolean;
  /** Heartbeat interval when the settings carry none, in ms; default 5000 (tests shorten it). */
  heartbeatIntervalMs?: number;
}

/** What the agent is built from. */
export interface AgentDeps {
  client: ControlPlaneApi;
  log: Logger;
  /** Default: the built-in handlers. */
  registry?: HandlerRegistry;
  /** Scrubs secrets from job logs before they are spooled; default an empty redactor. */
  redactor?: Redactor;
  /** Starts OpenTelemetry once the settings are known (telemetry/otel.ts `startTelemetry`, which the factory
   * may import lazily); the agent records job and step spans and metrics through it (a job claimed while it
   * loads waits for it), adds its metrics to /metrics and shuts it down last. None when absent. */
  telemetry?: (settings: RunnerSettings, sources: TelemetrySources) => Telemetry | Promise<Telemetry>;
}

/** Live agent values handed to telemetry for its observed metrics. */
export interface TelemetrySources {
  /** Largest gap between two heartbeat sends so far, in ms (0 before the first). */
  heartbeatWorstGapMs(): number;
}

/** How the agent ended. */
export interface AgentExit {
  /** 0 after a drain; the startup error's exit code when it could not start. */
  exitCode: number;
  reason: string;
}

/** Numbers for tests and the benchmark. */
export interface AgentStats {
  state: AgentState;
  heartbeat: HeartbeatStats;
  pickups: PickupSample[];
  /** Milliseconds from process start to the first ask for work. */
  firstPollMs: number | undefined;
  jobs: Record<string, number>;
  loops: JobLoopHealth[];
  processId: string | undefined;
}

/** A runner agent. */
export interface Agent {
  readonly state: AgentState;
  /** Starts; resolves once running (or once a drain requested during startup finished). Rejects with AgentStartupError. */
  start(): Promise<void>;
  /** Begins draining (idempotent); `force` aborts running jobs at once instead of waiting drainTimeoutMs. */
  drain(reason: string, options?: { force?: boolean }): void;
  /** Aborts every running job now (reason `shutdown`) and drains. */
  shutdownNow(reason: string): void;
  /** Drains and resolves once stopped. Idempotent. */
  stop(reason?: string): Promise<AgentExit>;
  /** Resolves once stopped. */
  readonly done: Promise<AgentExit>;
  /** The admin server's URL once listening. */
  readonly adminUrl: string | undefined;
  stats(): AgentStats;
  /** Prometheus text of /metrics. */
  metricsText(): string;
}
